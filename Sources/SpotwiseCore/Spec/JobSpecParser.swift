import Foundation
import Yams

/// Reads a job spec from YAML (or JSON, which is YAML) and validates it, reporting every problem
/// in the file at once, each with file, line, column, field, the value found and what is allowed.
public struct JobSpecParser: Sendable {
    /// Submission time: relative deadlines count from it, and absolute ones must lie after it.
    public var now: Date

    public init(now: Date = Date()) {
        self.now = now
    }

    public static let topLevelFields = [
        "name", "run", "workdir", "env", "resources", "providers", "market", "deadline", "checkpoint",
        "retries", "hyperparameters", "register", "tags", "max_cost",
    ]

    /// Parses the bytes of a spec file; `file` names it in messages.
    public func parse(_ bytes: [UInt8], file: String) -> Result<JobSpec, SpecValidationError> {
        func fileError(line: Int = 1, column: Int = 1, _ problem: String, found: String? = nil, allowed: String? = nil)
            -> Result<JobSpec, SpecValidationError>
        {
            .failure(
                SpecValidationError(diagnostics: [
                    SpecDiagnostic(
                        file: file, line: line, column: column, field: "(file)", problem: problem, found: found,
                        allowed: allowed)
                ]))
        }
        guard bytes.count <= InputLimits.maxSpecBytes else {
            return fileError(
                "spec too large", found: "\(bytes.count) bytes", allowed: "at most \(InputLimits.maxSpecBytes) bytes")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            let (line, column, byte) = Self.firstInvalidUTF8(in: bytes)
            return fileError(
                line: line, column: column, "not valid UTF-8 text",
                found: "byte 0x\(String(byte, radix: 16, uppercase: true))", allowed: "a UTF-8 encoded YAML file")
        }
        if text.allSatisfy({ $0.isWhitespace }) || Self.isOnlyComments(text) {
            return fileError("empty spec", found: "no fields", allowed: "a mapping with at least 'name' and 'run'")
        }
        // Aliases are expanded and nesting measured on the event stream, before any tree is built.
        if let limit = YAMLExpansionCheck().firstExceededLimit(in: bytes) {
            return fileError(
                line: limit.line, column: limit.column, limit.problem, found: limit.found, allowed: limit.allowed)
        }
        let root: Node
        do {
            guard let composed = try Yams.compose(yaml: text) else {
                return fileError("empty spec", found: "no fields", allowed: "a mapping with at least 'name' and 'run'")
            }
            root = composed
        } catch let error as YamlError {
            return Self.syntaxError(error, file: file)
        } catch {
            return fileError("could not read YAML: \(error)")
        }
        var reader = SpecReader(file: file)
        let spec = decodeSpec(root, reader: &reader)
        if let spec, reader.diagnostics.isEmpty {
            return .success(spec)
        }
        let sorted = reader.diagnostics.enumerated().sorted {
            ($0.element.line, $0.element.column, $0.offset) < ($1.element.line, $1.element.column, $1.offset)
        }.map(\.element)
        return .failure(SpecValidationError(diagnostics: sorted))
    }

    public func parse(contentsOf url: URL, displayName: String? = nil) -> Result<JobSpec, SpecValidationError> {
        let name = displayName ?? url.path
        do {
            let data = try Data(contentsOf: url)
            return parse([UInt8](data), file: name)
        } catch {
            return .failure(
                SpecValidationError(diagnostics: [
                    SpecDiagnostic(
                        file: name, line: 1, column: 1, field: "(file)", problem: "cannot read the file",
                        found: (error as NSError).localizedDescription, allowed: "a readable YAML file")
                ]))
        }
    }

    // MARK: File-level problems

    static func firstInvalidUTF8(in bytes: [UInt8]) -> (line: Int, column: Int, byte: UInt8) {
        var line = 1
        var lineStart = 0
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            let length: Int
            switch byte {
            case 0x00...0x7F: length = 1
            case 0xC2...0xDF: length = 2
            case 0xE0...0xEF: length = 3
            case 0xF0...0xF4: length = 4
            default: length = 0
            }
            let sequence = length == 0 || index + length > bytes.count ? nil : Array(bytes[index..<index + length])
            guard let sequence, String(validating: sequence, as: UTF8.self) != nil else {
                let column = String(decoding: bytes[lineStart..<index], as: UTF8.self).unicodeScalars.count + 1
                return (line, column, byte)
            }
            if byte == 0x0A {
                line += 1
                lineStart = index + 1
            }
            index += length
        }
        return (line, 1, 0)
    }

    static func isOnlyComments(_ text: String) -> Bool {
        text.split(whereSeparator: \.isNewline).allSatisfy {
            let trimmed = $0.drop { $0.isWhitespace }
            return trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed == "---" || trimmed == "..."
        }
    }

    static func syntaxError(_ error: YamlError, file: String) -> Result<JobSpec, SpecValidationError> {
        let (problem, mark): (String, Mark?)
        let field = "(file)"
        switch error {
        case .scanner(let context, let text, let at, _), .parser(let context, let text, let at, _),
            .composer(let context, let text, let at, _):
            let prefix = context.map { "\($0.text), " } ?? ""
            (problem, mark) = ("\(prefix)\(text)", at)
        case .duplicatedKeysInMapping(let duplicates, let context):
            return .failure(
                SpecValidationError(diagnostics: [
                    SpecDiagnostic(
                        file: file, line: context.mark.line, column: context.mark.column,
                        field: duplicates.map { FieldPath.root.appending($0).description }.joined(separator: ", "),
                        problem: "field given twice", found: "\(duplicates.count == 1 ? "it" : "them") more than once",
                        allowed: "each field once")
                ]))
        default:
            (problem, mark) = ("\(error)", nil)
        }
        return .failure(
            SpecValidationError(diagnostics: [
                SpecDiagnostic(
                    file: file, line: mark?.line ?? 1, column: mark?.column ?? 1, field: field,
                    problem: "YAML syntax error: \(problem)", allowed: "valid YAML 1.1")
            ]))
    }
}
