/// One problem found in a job spec: where it is, which field, what was found and what is allowed.
///
/// Rendered as `FILE:LINE:COLUMN: error: FIELD: PROBLEM; found X; allowed: Y (HINT)`, the shape
/// compilers use, so editors can jump to it.
public struct SpecDiagnostic: Error, Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    /// The field path, e.g. `resources.nodes` or `providers[1].name`; `(file)` for the whole file.
    public var field: String
    public var problem: String
    public var found: String?
    public var allowed: String?
    public var hint: String?

    public init(
        file: String, line: Int, column: Int, field: String, problem: String,
        found: String? = nil, allowed: String? = nil, hint: String? = nil
    ) {
        self.file = file
        self.line = line
        self.column = column
        self.field = field
        self.problem = problem
        self.found = found
        self.allowed = allowed
        self.hint = hint
    }

    public var description: String {
        var text = "\(file):\(line):\(column): error: \(field): \(problem)"
        if let found { text += "; found \(found)" }
        if let allowed { text += "; allowed: \(allowed)" }
        if let hint { text += " (\(hint))" }
        return text
    }
}

/// All the problems of one spec file, in file order.
public struct SpecValidationError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [SpecDiagnostic]

    public init(diagnostics: [SpecDiagnostic]) {
        self.diagnostics = diagnostics
    }

    public var description: String {
        diagnostics.map(\.description).joined(separator: "\n")
    }
}
