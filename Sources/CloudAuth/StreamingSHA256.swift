import Crypto
import Foundation

/// SHA-256 over data that arrives in pieces.
public struct StreamingSHA256: Sendable {
    var hasher = SHA256()

    public init() {}

    public mutating func update(_ data: Data) { hasher.update(data: data) }

    public func finalizeHex() -> String { AWSSigner.hex(hasher.finalize()) }
}
