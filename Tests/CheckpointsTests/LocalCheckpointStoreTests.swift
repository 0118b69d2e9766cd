import Checkpoints
import Foundation
import Testing

func temporaryDirectory(_ name: String = "ckpt") -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("spotwise-\(name)-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

func writeCheckpointFiles(_ directory: URL, seed: UInt8, sizes: [Int] = [1_000, 70_000]) throws {
    try FileManager.default.createDirectory(
        at: directory.appendingPathComponent("optim"), withIntermediateDirectories: true)
    for (index, size) in sizes.enumerated() {
        let bytes = Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed) &+ index) })
        let name = index == 0 ? "weights.npz" : "optim/state-\(index).bin"
        try bytes.write(to: directory.appendingPathComponent(name))
    }
}

@Suite struct LocalCheckpointStoreTests {
    let root = temporaryDirectory("root")
    var store: LocalCheckpointStore { LocalCheckpointStore(root: root) }

    @Test func aCommittedCheckpointRestoresByteForByte() async throws {
        let source = temporaryDirectory()
        try writeCheckpointFiles(source, seed: 1)
        let committed = try await store.commit(job: "job-1", attempt: 1, step: 50, from: source)
        #expect(committed.location == "job-1/step-0000000050" && committed.manifestDigest.count == 64)
        #expect(try await store.committedSteps(job: "job-1") == [50])
        let again = try await store.commit(job: "job-1", attempt: 2, step: 50, from: source)
        #expect(again == committed)

        let target = temporaryDirectory("restore")
        let result = try await store.restore(job: "job-1", atMost: nil, into: target)
        #expect(result.restored == committed && result.skipped.isEmpty)
        for name in ["weights.npz", "optim/state-1.bin"] {
            #expect(
                try Data(contentsOf: target.appendingPathComponent(name))
                    == Data(contentsOf: source.appendingPathComponent(name)))
        }
    }

    @Test func aCorruptCheckpointIsSkippedForThePreviousOne() async throws {
        for (step, seed) in [(10, UInt8(1)), (20, 2)] {
            let source = temporaryDirectory()
            try writeCheckpointFiles(source, seed: seed)
            _ = try await store.commit(job: "j", attempt: 1, step: step, from: source)
        }
        // Flip one byte of the newest checkpoint's weights.
        let weights = root.appendingPathComponent("j/step-0000000020/weights.npz")
        var bytes = try Data(contentsOf: weights)
        bytes[10] ^= 0xFF
        try bytes.write(to: weights)
        let result = try await store.restore(job: "j", atMost: nil, into: temporaryDirectory())
        #expect(result.restored?.step == 10)
        #expect(result.skipped.map(\.step) == [20])
        #expect(result.skipped.first?.reason.contains("weights.npz' is corrupt") == true)

        // A truncated file is torn, and says so.
        try Data(bytes.prefix(5)).write(to: weights)
        let torn = try await store.restore(job: "j", atMost: nil, into: temporaryDirectory())
        #expect(torn.skipped.first?.reason.contains("torn") == true)
    }

    @Test func manifestPathsThatLeaveTheCheckpointAreRefused() async throws {
        for path in ["../../etc/passwd", "/etc/passwd", "a/../b", "", "a//b", "./a"] {
            #expect(!CheckpointManifest.isSafe(path), "\(path)")
        }
        #expect(CheckpointManifest.isSafe("optim/state.bin"))

        let source = temporaryDirectory()
        try writeCheckpointFiles(source, seed: 3)
        _ = try await store.commit(job: "j", attempt: 1, step: 5, from: source)
        let manifestURL = root.appendingPathComponent("j/step-0000000005/manifest.json")
        let text = try String(contentsOf: manifestURL, encoding: .utf8)
        try text.replacingOccurrences(of: "\"weights.npz\"", with: "\"..\\/..\\/secret\"")
            .write(to: manifestURL, atomically: true, encoding: .utf8)
        let result = try await store.restore(job: "j", atMost: nil, into: temporaryDirectory())
        #expect(result.restored == nil)
        #expect(result.skipped.first?.reason.contains("refused path") == true)
    }

    @Test func aSymlinkIsNeverCommittedNorRestored() async throws {
        let source = temporaryDirectory()
        try writeCheckpointFiles(source, seed: 4)
        try FileManager.default.createSymbolicLink(
            atPath: source.appendingPathComponent("link").path, withDestinationPath: "/etc/passwd")
        await #expect(throws: CheckpointError.notARegularFile("link")) {
            _ = try await store.commit(job: "j", attempt: 1, step: 1, from: source)
        }
        try FileManager.default.removeItem(at: source.appendingPathComponent("link"))
        _ = try await store.commit(job: "j", attempt: 1, step: 2, from: source)
        // Replace a committed file by a symlink out of the root.
        let weights = root.appendingPathComponent("j/step-0000000002/weights.npz")
        try FileManager.default.removeItem(at: weights)
        try FileManager.default.createSymbolicLink(atPath: weights.path, withDestinationPath: "/etc/hostname")
        let result = try await store.restore(job: "j", atMost: nil, into: temporaryDirectory())
        #expect(result.restored == nil && result.skipped.first?.reason.contains("not a regular file") == true)
    }

    @Test func retentionKeepsTheNewestAndRemovesUncommittedDirectories() async throws {
        for step in [10, 20, 30, 40] {
            let source = temporaryDirectory()
            try writeCheckpointFiles(source, seed: UInt8(step))
            _ = try await store.commit(job: "j", attempt: 1, step: step, from: source)
        }
        // A torn directory: files but no manifest.
        let torn = root.appendingPathComponent("j/step-0000000050")
        try FileManager.default.createDirectory(at: torn, withIntermediateDirectories: true)
        try Data("half".utf8).write(to: torn.appendingPathComponent("weights.npz"))
        #expect(try await store.committedSteps(job: "j") == [10, 20, 30, 40])
        let collected = try await store.collectGarbage(job: "j", keepLast: 2)
        #expect(collected.removedCommitted == [10, 20])
        #expect(collected.removedUncommitted == ["step-0000000050"])
        #expect(try await store.committedSteps(job: "j") == [30, 40])
        #expect(try await store.restore(job: "j", atMost: 35, into: temporaryDirectory()).restored?.step == 30)
    }

    @Test func aJobNameThatIsAPathIsRefused() async throws {
        await #expect(throws: CheckpointError.invalidName("../x")) {
            _ = try await store.committedSteps(job: "../x")
        }
    }
}
