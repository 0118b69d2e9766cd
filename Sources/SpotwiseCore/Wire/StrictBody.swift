import Foundation

/// Decodes `Value` from a JSON object after checking, on the same parse, that the object has no
/// key outside the allowed fields (passed in the decoder's `userInfo`). The coordinator decodes
/// every worker body through it; it lives here, not in the coordinator, so that the fuzz harness
/// (`Fuzz/`) drives the same code without the HTTP server.
public struct StrictBody<Value: Decodable>: Decodable {
    public static var fieldsKey: CodingUserInfoKey { CodingUserInfoKey(rawValue: "spotwise.allowedFields")! }
    public let value: Value

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        let allowed = decoder.userInfo[Self.fieldsKey] as? Set<String> ?? []
        let keys = try decoder.container(keyedBy: AnyKey.self).allKeys.map(\.stringValue)
        let unknown = keys.filter { !allowed.contains($0) }
        guard unknown.isEmpty else { throw UnknownFields(names: unknown.sorted()) }
        value = try Value(from: decoder)
    }

    /// One parse of `data`: a JSON object whose keys are all in `fields`, decoded as `Value`.
    /// Throws `UnknownFields` or the decoder's `DecodingError`. The caller refuses deep nesting
    /// first (`InputLimits.jsonNestingBeyond`).
    public static func decode(_ data: Data, fields: Set<String>) throws -> Value {
        let decoder = JSONDecoder()
        decoder.userInfo[fieldsKey] = fields
        return try decoder.decode(Self.self, from: data).value
    }
}

/// A body's keys that are not among the allowed fields, sorted.
public struct UnknownFields: Error, Sendable {
    public var names: [String]
}
