/// The `filter` of MLflow's `registered-models/search` and `model-versions/search`, the subset
/// Spotwise answers: clauses joined by `AND`, each `KEY = 'text'`, `KEY != 'text'`,
/// `KEY LIKE 'pattern'`, `KEY ILIKE 'pattern'` or `KEY IN ('a', 'b')`, where KEY is one of the
/// route's keys (`name`, and `run_id` for versions) or a tag, `tag.NAME` or `tags.NAME` (a tag
/// that is absent reads as empty text: MLflow 3's client adds `` tag.`mlflow.prompt.is_prompt` !=
/// 'true' `` to every search, which every Spotwise model passes), written bare, in backticks or
/// in double quotes (a tag's name too). In a pattern `%` stands for any text and `_` for one character. Anything else is
/// refused with the position and what is allowed, never ignored (a filter silently dropped would
/// answer more than was asked).
struct MLflowSearchFilter: Equatable, Sendable {
    enum Operator: String, Equatable, Sendable {
        case equal = "="
        case notEqual = "!="
        case like = "LIKE"
        case caseInsensitiveLike = "ILIKE"
        case isIn = "IN"
    }

    struct Clause: Equatable, Sendable {
        var key: String
        var op: Operator
        var values: [String]
    }

    struct Refusal: Error, Equatable, Sendable, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    var clauses: [Clause]

    /// The longest filter read: a filter is a few clauses, not a document.
    static let maxLength = 4_096

    /// Parses `text` (empty or all blank: no clause, everything matches), allowing only `keys`.
    init(parsing text: String, keys: [String]) throws(Refusal) {
        guard text.utf8.count <= Self.maxLength else {
            throw Refusal(message: "the filter is \(text.utf8.count) bytes; at most \(Self.maxLength) are read")
        }
        var reader = Reader(Array(text.unicodeScalars), keys: keys)
        clauses = try reader.clauses()
    }

    /// Whether a value with these fields (`name`, `run_id`, `tag.NAME`) passes every clause.
    func matches(_ fields: [String: String]) -> Bool {
        clauses.allSatisfy { clause in
            let value = fields[clause.key] ?? ""
            switch clause.op {
            case .equal: return value == clause.values[0]
            case .notEqual: return value != clause.values[0]
            case .isIn: return clause.values.contains(value)
            case .like: return Self.like(Array(value.unicodeScalars), Array(clause.values[0].unicodeScalars))
            case .caseInsensitiveLike:
                return Self.like(
                    Array(value.lowercased().unicodeScalars), Array(clause.values[0].lowercased().unicodeScalars))
            }
        }
    }

    /// SQL LIKE: `%` any run of characters (none included), `_` exactly one. Iterative with one
    /// backtrack point, so a pattern of many `%` costs linear time per position, not exponential.
    static func like(_ text: [Unicode.Scalar], _ pattern: [Unicode.Scalar]) -> Bool {
        var t = 0
        var p = 0
        var star: Int?
        var resume = 0
        while t < text.count {
            if p < pattern.count, pattern[p] == "_" || (pattern[p] != "%" && pattern[p] == text[t]) {
                t += 1
                p += 1
            } else if p < pattern.count, pattern[p] == "%" {
                star = p
                resume = t
                p += 1
            } else if let at = star {
                p = at + 1
                resume += 1
                t = resume
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == "%" { p += 1 }
        return p == pattern.count
    }
}

extension MLflowSearchFilter {
    /// A hand-written reader over the filter's characters; positions in errors count from 1.
    fileprivate struct Reader {
        let text: [Unicode.Scalar]
        let keys: [String]
        var at = 0

        init(_ text: [Unicode.Scalar], keys: [String]) {
            self.text = text
            self.keys = keys
        }

        var allowed: String { (keys.map { "'\($0)'" } + ["tag.NAME"]).joined(separator: ", ") }

        mutating func clauses() throws(Refusal) -> [Clause] {
            skipBlanks()
            if at == text.count { return [] }
            var found: [Clause] = []
            while true {
                found.append(try clause())
                skipBlanks()
                if at == text.count { return found }
                let start = at
                guard word().uppercased() == "AND" else {
                    throw refusal(at: start, "expected AND between clauses (OR is not supported)")
                }
            }
        }

        mutating func clause() throws(Refusal) -> Clause {
            skipBlanks()
            let start = at
            var key = try identifier()
            for prefix in ["tag.", "tags."] where key.hasPrefix(prefix) {
                // `tag.NAME`, or `` tag.`NAME` `` with the name quoted after the dot.
                var name = String(key.dropFirst(prefix.count))
                if name.isEmpty { name = try identifier() }
                guard !name.isEmpty else { throw refusal(at: start, "a tag key needs a name: tag.NAME") }
                key = "tag." + name
            }
            guard keys.contains(key) || key.hasPrefix("tag.") else {
                throw refusal(at: start, "'\(key)' cannot be filtered on here; the keys are \(allowed)")
            }
            skipBlanks()
            let opStart = at
            let op: Operator
            if take("!=") {
                op = .notEqual
            } else if take("=") {
                op = .equal
            } else {
                let name = word().uppercased()
                guard let named = Operator(rawValue: name), named != .equal, named != .notEqual else {
                    throw refusal(at: opStart, "expected =, !=, LIKE, ILIKE or IN after '\(key)'")
                }
                op = named
            }
            skipBlanks()
            if op == .isIn {
                return Clause(key: key, op: op, values: try list())
            }
            return Clause(key: key, op: op, values: [try quoted()])
        }

        /// `name`, `` `name` `` or `"name"`.
        mutating func identifier() throws(Refusal) -> String {
            let start = at
            if at < text.count, text[at] == "`" || text[at] == "\"" {
                let close = text[at]
                at += 1
                let begin = at
                while at < text.count, text[at] != close { at += 1 }
                guard at < text.count else { throw refusal(at: start, "the quoted key is not closed") }
                let name = String(String.UnicodeScalarView(text[begin..<at]))
                at += 1
                return name
            }
            let name = word()
            guard !name.isEmpty else { throw refusal(at: start, "expected a key (\(allowed))") }
            return name
        }

        /// `'text'`; a quote inside is written twice (`'it''s'`).
        mutating func quoted() throws(Refusal) -> String {
            let start = at
            guard at < text.count, text[at] == "'" else {
                throw refusal(at: start, "expected a value in single quotes, e.g. 'digits-classifier'")
            }
            at += 1
            var value = String.UnicodeScalarView()
            while at < text.count {
                if text[at] == "'" {
                    if at + 1 < text.count, text[at + 1] == "'" {
                        value.append("'")
                        at += 2
                        continue
                    }
                    at += 1
                    return String(value)
                }
                value.append(text[at])
                at += 1
            }
            throw refusal(at: start, "the quoted value is not closed")
        }

        /// `('a', 'b')`, at least one value.
        mutating func list() throws(Refusal) -> [String] {
            guard take("(") else { throw refusal(at: at, "expected ( after IN, e.g. IN ('a', 'b')") }
            var values: [String] = []
            while true {
                skipBlanks()
                values.append(try quoted())
                skipBlanks()
                if take(")") { return values }
                guard take(",") else { throw refusal(at: at, "expected , or ) in the IN list") }
            }
        }

        mutating func word() -> String {
            let begin = at
            while at < text.count,
                text[at].properties.isAlphabetic || text[at] == "_" || text[at] == "."
                    || (at > begin && ("0"..."9").contains(text[at]))
            {
                at += 1
            }
            return String(String.UnicodeScalarView(text[begin..<at]))
        }

        mutating func take(_ literal: String) -> Bool {
            let scalars = Array(literal.unicodeScalars)
            guard at + scalars.count <= text.count, Array(text[at..<at + scalars.count]) == scalars else {
                return false
            }
            at += scalars.count
            return true
        }

        mutating func skipBlanks() {
            while at < text.count, text[at].properties.isWhitespace { at += 1 }
        }

        func refusal(at position: Int, _ what: String) -> Refusal {
            Refusal(message: "filter, at character \(position + 1): \(what)")
        }
    }
}
