import Crypto
import Foundation
import Testing

@testable import Checkpoints

/// The copy that a commit and a restore make: every size around the pipeline's pieces comes out
/// byte for byte, with the SHA-256 of exactly those bytes.
@Suite struct HashingCopyTests {
    /// `count` bytes from a 64 KiB pseudo-random block, each repeat of it marked by its index
    /// (so a piece copied to the wrong offset changes the bytes).
    static func bytes(_ count: Int, seed: UInt64) -> Data {
        var state = seed
        let block = (0..<65_536).map { _ -> UInt8 in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
        var data = Data(capacity: count)
        var index = 0
        while data.count < count {
            var piece = block.prefix(count - data.count)
            piece[0] ^= UInt8(truncatingIfNeeded: index)
            data.append(contentsOf: piece)
            index += 1
        }
        return data
    }

    @Test(arguments: [
        0, 1, HashingCopy.pieceBytes - 1, 2 * HashingCopy.pieceBytes, 2 * HashingCopy.pieceBytes + 1,
        3 * HashingCopy.pieceBytes + 5,
    ])
    func aCopyIsTheSourceAndItsHashIsTheSourcesHash(size: Int) throws {
        let directory = temporaryDirectory("hashing-copy")
        defer { try? FileManager.default.removeItem(at: directory) }
        let data = Self.bytes(size, seed: UInt64(size) + 7)
        let source = directory.appendingPathComponent("source.bin")
        try data.write(to: source)
        for (durable, overlap) in [(true, true), (false, true), (true, false)] {
            let copy = directory.appendingPathComponent("copy-\(durable)-\(overlap).bin")
            let (bytes, digest) = try HashingCopy.run(from: source, to: copy, durable: durable, overlap: overlap)
            #expect(bytes == Int64(size))
            #expect(digest == LocalCheckpointStore.hex(SHA256.hash(data: data)))
            #expect(try Data(contentsOf: copy) == data)
        }
    }

    @Test func aMissingSourceIsAMissingFileAndAnUnwritableTargetAnIOError() throws {
        let directory = temporaryDirectory("hashing-copy")
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(throws: CheckpointError.missingFile("nothing.bin")) {
            _ = try HashingCopy.run(
                from: directory.appendingPathComponent("nothing.bin"), to: directory.appendingPathComponent("x"),
                durable: true)
        }
        let source = directory.appendingPathComponent("source.bin")
        try Data("weights".utf8).write(to: source)
        #expect(throws: CheckpointError.self) {
            _ = try HashingCopy.run(
                from: source, to: directory.appendingPathComponent("no/such/dir/x"), durable: true)
        }
    }
}
