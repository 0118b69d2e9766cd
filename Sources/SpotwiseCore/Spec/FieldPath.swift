/// A path to a field in a spec, rendered the way users write it: `providers[0].regions[2]`.
struct FieldPath: Hashable, Sendable, CustomStringConvertible {
    enum Component: Hashable, Sendable {
        case key(String)
        case index(Int)
    }

    var components: [Component] = []

    static let root = FieldPath()

    func appending(_ key: String) -> FieldPath {
        FieldPath(components: components + [.key(key)])
    }

    func appending(index: Int) -> FieldPath {
        FieldPath(components: components + [.index(index)])
    }

    var description: String {
        guard !components.isEmpty else { return "(file)" }
        var text = ""
        for component in components {
            switch component {
            // An empty key (`"": 1`, or `&anchor:` with no name) shows as `""`, so a message never
            // names an empty field (found by scripts/fuzz).
            case .key(let key):
                let shown = key.isEmpty ? "\"\"" : key
                text += text.isEmpty ? shown : ".\(shown)"
            case .index(let index): text += "[\(index)]"
            }
        }
        return text
    }
}
