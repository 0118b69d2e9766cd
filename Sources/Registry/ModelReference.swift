import SpotwiseCore

/// `NAME`, `NAME:VERSION` or `NAME@ALIAS`, as the CLI and `/v1/models` take them.
public struct ModelReference: Hashable, Sendable, CustomStringConvertible {
    public enum Selector: Hashable, Sendable {
        case latest
        case version(Int)
        case alias(String)
    }

    public var model: String
    public var selector: Selector

    public init(model: String, selector: Selector) {
        self.model = model
        self.selector = selector
    }

    /// Parses a reference; the error says what is allowed.
    public init(parsing text: String) throws(RegistryError) {
        if let at = text.firstIndex(of: "@") {
            let alias = String(text[text.index(after: at)...])
            self.init(model: String(text[..<at]), selector: .alias(alias))
            try Self.checkAlias(alias)
        } else if let colon = text.firstIndex(of: ":") {
            let number = text[text.index(after: colon)...]
            guard let version = Int(number), version >= 1 else {
                throw .invalid("'\(text)': the version after ':' must be a number from 1, e.g. \(text[..<colon]):3")
            }
            self.init(model: String(text[..<colon]), selector: .version(version))
        } else {
            self.init(model: text, selector: .latest)
        }
        try Self.checkModel(model)
    }

    public var description: String {
        switch selector {
        case .latest: model
        case .version(let version): "\(model):\(version)"
        case .alias(let alias): "\(model)@\(alias)"
        }
    }

    /// Model names follow the job spec's `register.model` rule.
    public static func checkModel(_ name: String) throws(RegistryError) {
        guard SpecValueParsing.isValidModelName(name) else {
            throw .invalid("'\(name)' is not a model name: \(SpecValueParsing.modelNameGrammar)")
        }
    }

    public static func checkAlias(_ alias: String) throws(RegistryError) {
        guard isName(alias, extra: "-_") else {
            throw .invalid(
                "'\(alias)' is not an alias name: lowercase letters, digits, '-' and '_', starting with a letter, at most 63"
            )
        }
    }

    static func isName(_ text: String, extra: String) -> Bool {
        guard let first = text.first, first.isASCII, first.isLowercase, text.count <= 63 else { return false }
        return text.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || extra.contains($0)) }
    }
}

public enum RegistryError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Bad input from the caller: a malformed name or reference.
    case invalid(String)
    /// A model, version or alias that does not exist.
    case notFound(String)
    /// A move that cannot be made (nothing to roll back to).
    case conflict(String)

    public var description: String {
        switch self {
        case .invalid(let text), .notFound(let text), .conflict(let text): text
        }
    }
}
