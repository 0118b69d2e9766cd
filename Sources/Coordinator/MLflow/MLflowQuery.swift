import Foundation

/// The query of an MLflow GET as MLflow's client sends it: form-encoded by `requests`, so `+` is a
/// space and `%2B` a plus (`name = 'x'` arrives as `name+%3D+%27x%27`). Fields may repeat
/// (`order_by`). A field that is not valid percent-encoding is kept as it came.
struct MLflowQuery: Sendable {
    private var fields: [String: [String]] = [:]

    init(_ rawQuery: String?) {
        for pair in (rawQuery ?? "").split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = Self.decode(parts[0])
            fields[name, default: []].append(parts.count == 2 ? Self.decode(parts[1]) : "")
        }
    }

    static func decode(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }

    subscript(_ name: String) -> String? { fields[name]?.first }

    func all(_ name: String) -> [String] { fields[name] ?? [] }
}
