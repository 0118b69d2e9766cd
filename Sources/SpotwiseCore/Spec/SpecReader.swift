import Yams

/// Walks a composed YAML tree and turns nodes into typed values, collecting every problem it
/// meets (rather than stopping at the first) with the node's line and column.
struct SpecReader {
    let file: String
    private(set) var diagnostics: [SpecDiagnostic] = []

    init(file: String) {
        self.file = file
    }

    mutating func report(
        _ node: Node?, _ path: FieldPath, _ problem: String,
        found: String? = nil, allowed: String? = nil, hint: String? = nil
    ) {
        let mark = node?.mark
        diagnostics.append(
            SpecDiagnostic(
                file: file, line: mark?.line ?? 1, column: mark?.column ?? 1, field: path.description,
                problem: problem, found: found, allowed: allowed, hint: hint))
    }

    /// How a node reads in a message: plain scalars as written, quoted ones in quotes.
    static func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain {
                return scalar.string.isEmpty || node.null != nil ? "nothing (null)" : scalar.string
            }
            return "\"\(scalar.string)\""
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    // MARK: Mappings

    /// The entries of a mapping whose keys must come from `allowed`. Unknown keys (with a
    /// suggestion for near misses), duplicate keys and non-scalar keys are reported.
    mutating func mapping(_ node: Node, at path: FieldPath, allowed: [String], expected: String)
        -> [String: Node]?
    {
        guard case .mapping(let mapping) = node else {
            report(node, path, "wrong type", found: Self.describe(node), allowed: expected)
            return nil
        }
        var entries: [String: Node] = [:]
        for (key, value) in mapping {
            guard case .scalar(let keyScalar) = key else {
                report(key, path, "a field name must be text", found: Self.describe(key))
                continue
            }
            let name = keyScalar.string
            let fieldPath = path.appending(name)
            if entries[name] != nil {
                report(key, fieldPath, "field given twice", found: name, allowed: "each field once")
                continue
            }
            guard allowed.contains(name) else {
                let hint = Suggestion.closest(to: name, among: allowed).map { "did you mean '\($0)'?" }
                report(
                    key, fieldPath, "unknown field", found: "'\(name)'", allowed: allowed.joined(separator: ", "),
                    hint: hint)
                continue
            }
            entries[name] = value
        }
        return entries
    }

    /// A mapping with free keys (env, tags, hyperparameters); keys are checked by `keyIsValid`.
    mutating func freeMapping(
        _ node: Node, at path: FieldPath, expected: String, keyRule: String, keyIsValid: (String) -> Bool
    ) -> [(key: String, keyNode: Node, value: Node)]? {
        guard case .mapping(let mapping) = node else {
            report(node, path, "wrong type", found: Self.describe(node), allowed: expected)
            return nil
        }
        var seen = Set<String>()
        var entries: [(key: String, keyNode: Node, value: Node)] = []
        for (key, value) in mapping {
            guard case .scalar(let keyScalar) = key else {
                report(key, path, "a key must be text", found: Self.describe(key))
                continue
            }
            let name = keyScalar.string
            guard seen.insert(name).inserted else {
                report(key, path.appending(name), "key given twice", found: name, allowed: "each key once")
                continue
            }
            guard keyIsValid(name) else {
                report(key, path.appending(name), "invalid key", found: "'\(name)'", allowed: keyRule)
                continue
            }
            entries.append((name, key, value))
        }
        return entries
    }

    // MARK: Scalars

    /// Text from a scalar; numbers and booleans are refused unless `acceptNumbers` (their text is kept).
    mutating func text(_ node: Node, at path: FieldPath, allowed: String, acceptNumbers: Bool = false) -> String? {
        guard case .scalar(let scalar) = node, node.null == nil || scalar.style != .plain else {
            report(
                node, path, node.null != nil ? "missing value" : "wrong type", found: Self.describe(node),
                allowed: allowed)
            return nil
        }
        if scalar.style == .plain, !acceptNumbers, node.int != nil || node.float != nil || node.bool != nil {
            report(
                node, path, "wrong type", found: Self.describe(node), allowed: allowed,
                hint: "quote it to use it as text")
            return nil
        }
        return scalar.string
    }

    /// A whole number in `range`.
    mutating func integer(_ node: Node, at path: FieldPath, in range: ClosedRange<Int>, allowed: String) -> Int? {
        guard case .scalar(let scalar) = node, scalar.style == .plain, let value = node.int else {
            let isNumber = node.float != nil && Self.isPlain(node)
            report(
                node, path, isNumber ? "not a whole number" : "wrong type", found: Self.describe(node), allowed: allowed
            )
            return nil
        }
        guard range.contains(value) else {
            report(node, path, "out of range", found: scalar.string, allowed: allowed)
            return nil
        }
        return value
    }

    /// A number (whole or decimal); `check` says whether the value is allowed.
    mutating func number(_ node: Node, at path: FieldPath, allowed: String, check: (Double) -> Bool) -> Double? {
        guard Self.isPlain(node), let value = node.int.map(Double.init) ?? node.float, value.isFinite else {
            report(node, path, "wrong type", found: Self.describe(node), allowed: allowed)
            return nil
        }
        guard check(value) else {
            report(node, path, "out of range", found: Self.describe(node), allowed: allowed)
            return nil
        }
        return value
    }

    /// One of a fixed set of words, with a suggestion for near misses.
    mutating func choice<Choice: RawRepresentable & CaseIterable>(
        _ node: Node, at path: FieldPath, as type: Choice.Type
    ) -> Choice? where Choice.RawValue == String {
        let names = Choice.allCases.map(\.rawValue)
        let allowed = names.joined(separator: ", ")
        guard let word = text(node, at: path, allowed: allowed) else { return nil }
        guard let value = Choice(rawValue: word) else {
            let hint = Suggestion.closest(to: word, among: names).map { "did you mean '\($0)'?" }
            report(node, path, "unknown value", found: "'\(word)'", allowed: allowed, hint: hint)
            return nil
        }
        return value
    }

    /// A list; a single scalar is not silently promoted to a one-element list.
    mutating func list(_ node: Node, at path: FieldPath, allowed: String) -> [Node]? {
        guard case .sequence(let sequence) = node else {
            report(node, path, "wrong type", found: Self.describe(node), allowed: allowed)
            return nil
        }
        return Array(sequence)
    }

    static func isPlain(_ node: Node) -> Bool {
        if case .scalar(let scalar) = node { return scalar.style == .plain }
        return false
    }
}
