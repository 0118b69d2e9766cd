import Checkpoints
import CloudAuth
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 14 item 4, the hostile cases against the local store: nothing in a store leads out of it
/// (symlinked job, step and middle directories, a symlinked manifest, hard links), and a missing,
/// empty or out-of-range checkpoint is never committed nor restored.
@Suite struct CheckpointStoreEscapeTests {
    let root = temporaryDirectory("root")
    let outside = temporaryDirectory("outside")
    var store: LocalCheckpointStore { LocalCheckpointStore(root: root) }

    /// Makes `path` under the store's root a symlink to `target`.
    func plantSymlink(_ path: String, to target: URL) throws {
        let url = root.appendingPathComponent(path)
        try FileManager.default.createDirectory(
            at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: url.path, withDestinationPath: target.path)
    }

    /// Moves `path` under the root out of the store and leaves a symlink to it in its place.
    func moveOut(_ path: String) throws -> URL {
        let inside = root.appendingPathComponent(path)
        let moved = outside.appendingPathComponent(UUID().uuidString)
        try FileManager.default.moveItem(at: inside, to: moved)
        try FileManager.default.createSymbolicLink(atPath: inside.path, withDestinationPath: moved.path)
        return moved
    }

    func entries(_ url: URL) -> [String] {
        ((try? FileManager.default.subpathsOfDirectory(atPath: url.path)) ?? []).sorted()
    }

    func committed(in directory: URL, job: String = "j", step: Int, seed: UInt8) async throws -> CommittedCheckpointRef
    {
        let source = temporaryDirectory()
        try writeCheckpointFiles(source, seed: seed)
        return try await LocalCheckpointStore(root: directory).commit(job: job, attempt: 1, step: step, from: source)
    }

    /// The error `body` throws, which must be a `CheckpointError`.
    func refusal(_ body: () async throws -> Void) async -> CheckpointError? {
        do {
            try await body()
            return nil
        } catch let error as CheckpointError {
            return error
        } catch {
            Issue.record("not a CheckpointError: \(error)")
            return nil
        }
    }

    @Test func aJobDirectoryThatIsASymlinkOutOfTheStoreIsNeverWrittenThrough() async throws {
        try plantSymlink("evil", to: outside)
        let source = temporaryDirectory()
        try writeCheckpointFiles(source, seed: 1)
        let refused = CheckpointError.symlinkInStore("evil")
        #expect(await refusal { _ = try await store.commit(job: "evil", attempt: 1, step: 5, from: source) } == refused)
        #expect(
            await refusal { try await store.commitShard(job: "evil", attempt: 1, step: 5, rank: 0, from: source) }
                == refused)
        #expect(await refusal { _ = try await store.commitArtifact(job: "evil", attempt: 1, from: source) } == refused)
        #expect(entries(outside).isEmpty)
        #expect(refused.description.contains("'evil' in the checkpoint store is a symlink"))
    }

    @Test func aJobDirectoryThatIsASymlinkIsNeitherListedRestoredVerifiedNorCollected() async throws {
        let ref = try await committed(in: outside, job: "real", step: 10, seed: 2)
        _ = try await committed(in: outside, job: "real", step: 20, seed: 3)
        try plantSymlink("evil", to: outside.appendingPathComponent("real"))
        let refused = CheckpointError.symlinkInStore("evil")
        #expect(await refusal { _ = try await store.committedSteps(job: "evil") } == refused)
        #expect(
            await refusal { _ = try await store.restore(job: "evil", atMost: nil, into: temporaryDirectory()) }
                == refused)
        #expect(
            await refusal {
                _ = try await store.verify(location: "evil/step-0000000010", manifestDigest: ref.manifestDigest)
            } == refused)
        #expect(await refusal { _ = try await store.collectGarbage(job: "evil", keepLast: 1) } == refused)
        // Retention did not reach through the link to remove the older checkpoint outside.
        #expect(try await LocalCheckpointStore(root: outside).committedSteps(job: "real") == [10, 20])
    }

    @Test func aStepDirectoryThatIsASymlinkIsNotACheckpoint() async throws {
        let ref = try await committed(in: outside, step: 9, seed: 4)
        _ = try await committed(in: root, step: 5, seed: 5)
        let elsewhere = outside.appendingPathComponent("j/step-0000000009")
        try plantSymlink("j/step-0000000009", to: elsewhere)

        #expect(try await store.committedSteps(job: "j") == [5])
        let result = try await store.restore(job: "j", atMost: nil, into: temporaryDirectory())
        #expect(result.restored?.step == 5)
        #expect(result.skipped.map(\.step) == [9])
        #expect(
            result.skipped.first?.reason.contains("'j/step-0000000009' in the checkpoint store is a symlink") == true)
        #expect(
            await refusal {
                _ = try await store.verify(location: "j/step-0000000009", manifestDigest: ref.manifestDigest)
            }
                == .symlinkInStore("j/step-0000000009"))
        // Committing step 9 does not take the checkpoint outside for its own.
        let source = temporaryDirectory()
        try writeCheckpointFiles(source, seed: 6)
        #expect(
            await refusal { _ = try await store.commit(job: "j", attempt: 2, step: 9, from: source) }
                == .symlinkInStore("j/step-0000000009"))
        // Retention removes the link, never what it points at.
        let collected = try await store.collectGarbage(job: "j", keepLast: 3)
        #expect(collected.removedUncommitted == ["step-0000000009"])
        #expect(FileManager.default.fileExists(atPath: elsewhere.appendingPathComponent("manifest.json").path))
        #expect(!entries(root.appendingPathComponent("j")).contains("step-0000000009"))
    }

    @Test func aMiddleDirectoryThatIsASymlinkIsRefused() async throws {
        let ref = try await committed(in: root, step: 3, seed: 7)
        // The same bytes, but reached through a symlink out of the store.
        _ = try moveOut("j/step-0000000003/optim")
        #expect(
            await refusal { _ = try await store.verify(location: ref.location, manifestDigest: ref.manifestDigest) }
                == .symlinkInStore("optim"))
        let result = try await store.restore(job: "j", atMost: nil, into: temporaryDirectory())
        #expect(result.restored == nil)
        #expect(result.skipped.first?.reason.contains("'optim' in the checkpoint store is a symlink") == true)
    }

    @Test func aManifestThatIsASymlinkOutOfTheStoreIsRefused() async throws {
        let ref = try await committed(in: root, step: 4, seed: 8)
        _ = try moveOut("j/step-0000000004/manifest.json")
        #expect(
            await refusal { _ = try await store.verify(location: ref.location, manifestDigest: ref.manifestDigest) }
                == .notARegularFile("j/step-0000000004/manifest.json"))
        #expect(try await store.committedSteps(job: "j") == [])
        #expect(try await store.restore(job: "j", atMost: nil, into: temporaryDirectory()).restored == nil)
    }

    @Test func aHardLinkedFileIsRefusedInTheSourceAndInTheStore() async throws {
        let source = temporaryDirectory()
        try writeCheckpointFiles(source, seed: 9)
        let secret = outside.appendingPathComponent("secret")
        try Data("not the trainer's".utf8).write(to: secret)
        #expect(link(secret.path, source.appendingPathComponent("stolen").path) == 0)
        #expect(
            await refusal { _ = try await store.commit(job: "j", attempt: 1, step: 1, from: source) }
                == .hardLink("stolen", links: 2))
        #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent("j/step-0000000001").path))

        try FileManager.default.removeItem(at: source.appendingPathComponent("stolen"))
        let ref = try await store.commit(job: "j", attempt: 1, step: 2, from: source)
        // A committed file swapped for a hard link to an identical file outside the store.
        let weights = root.appendingPathComponent("j/step-0000000002/weights.npz")
        let twin = outside.appendingPathComponent("weights.npz")
        try FileManager.default.copyItem(at: weights, to: twin)
        try FileManager.default.removeItem(at: weights)
        #expect(link(twin.path, weights.path) == 0)
        #expect(
            await refusal { _ = try await store.verify(location: ref.location, manifestDigest: ref.manifestDigest) }
                == .hardLink("weights.npz", links: 2))
        let result = try await store.restore(job: "j", atMost: nil, into: temporaryDirectory())
        #expect(result.restored == nil && result.skipped.first?.reason.contains("2 hard links") == true)
    }

    @Test func aMissingOrEmptyCheckpointIsNeverCommitted() async throws {
        let empty = temporaryDirectory("empty")
        let onlyDirectories = temporaryDirectory("dirs")
        try FileManager.default.createDirectory(
            at: onlyDirectories.appendingPathComponent("optim/state"), withIntermediateDirectories: true)
        let missing = outside.appendingPathComponent("step-7")
        let fileNotDirectory = outside.appendingPathComponent("weights.npz")
        try Data("x".utf8).write(to: fileNotDirectory)

        #expect(
            await refusal { _ = try await store.commit(job: "j", attempt: 1, step: 7, from: empty) }
                == .emptyCheckpoint(empty.path))
        #expect(
            await refusal { _ = try await store.commit(job: "j", attempt: 1, step: 7, from: onlyDirectories) }
                == .emptyCheckpoint(onlyDirectories.path))
        #expect(
            await refusal { _ = try await store.commit(job: "j", attempt: 1, step: 7, from: missing) }
                == .missingSource(missing.path))
        #expect(
            await refusal { _ = try await store.commit(job: "j", attempt: 1, step: 7, from: fileNotDirectory) }
                == .missingSource(fileNotDirectory.path))
        #expect(
            await refusal { try await store.commitShard(job: "j", attempt: 1, step: 7, rank: 0, from: empty) }
                == .emptyCheckpoint(empty.path))
        #expect(
            await refusal { try await store.commitShard(job: "j", attempt: 1, step: 7, rank: 1, from: missing) }
                == .missingSource(missing.path))
        #expect(try await store.committedSteps(job: "j") == [])
        #expect(entries(root).isEmpty)
        #expect(
            CheckpointError.emptyCheckpoint("/x").description
                == "/x holds no files: an empty checkpoint is never committed nor restored")
        // A model directory may be empty: the trainer's output is whatever it wrote.
        #expect(try await store.commitArtifact(job: "j", attempt: 1, from: empty).bytes == 0)
    }

    @Test func anEmptyCheckpointCommittedByAnOlderSpotwiseIsNeverRestored() async throws {
        _ = try await committed(in: root, step: 3, seed: 10)
        let step7 = root.appendingPathComponent("j/step-0000000007")
        try FileManager.default.createDirectory(at: step7, withIntermediateDirectories: true)
        let manifest = Data(
            #"{"version": 1, "job": "j", "attempt": 1, "step": 7, "created_at": "2026-01-01T00:00:00Z", "files": []}"#
                .utf8)
        try manifest.write(to: step7.appendingPathComponent("manifest.json"))

        let result = try await store.restore(job: "j", atMost: nil, into: temporaryDirectory())
        #expect(result.restored?.step == 3)
        #expect(result.skipped.map(\.step) == [7])
        #expect(
            result.skipped.first?.reason
                == "j/step-0000000007 holds no files: an empty checkpoint is never committed nor restored")
        #expect(
            await refusal {
                _ = try await store.verify(
                    location: "j/step-0000000007", manifestDigest: AWSSigner.sha256Hex(manifest))
            } == .emptyCheckpoint("j/step-0000000007"))
    }

    @Test func stepsOutsideZeroToInt32MaxAreRefused() async throws {
        let source = temporaryDirectory()
        try writeCheckpointFiles(source, seed: 11)
        for step in [-5, -1, Int(Int32.max) + 1, 99_999_999_999, Int.max, Int.min] {
            #expect(
                await refusal { _ = try await store.commit(job: "j", attempt: 1, step: step, from: source) }
                    == .invalidStep(step))
            #expect(
                await refusal { try await store.commitShard(job: "j", attempt: 1, step: step, rank: 0, from: source) }
                    == .invalidStep(step))
            #expect(
                await refusal { _ = try await store.commitGang(job: "j", attempt: 1, step: step, worldSize: 1) }
                    == .invalidStep(step))
        }
        #expect(entries(root).isEmpty)
        #expect(
            CheckpointError.invalidStep(-5).description
                == "step -5 is out of range: a checkpoint's step is a whole number from 0 to 2147483647")
        // The ends of the range are checkpoints like any other.
        for step in [0, Int(Int32.max)] { _ = try await store.commit(job: "j", attempt: 1, step: step, from: source) }
        #expect(try await store.committedSteps(job: "j") == [0, Int(Int32.max)])
    }

    @Test func aStepDirectoryNameThatIsNotTenDigitsInRangeIsNotACheckpoint() async throws {
        let ref = try await committed(in: root, step: 5, seed: 12)
        let committed = root.appendingPathComponent(ref.location)
        for name in ["step-+000000005", "step-9999999999", "step-00000000-5", "step-٠٠٠٠٠٠٠٠٠٥"] {
            try FileManager.default.copyItem(at: committed, to: root.appendingPathComponent("j/\(name)"))
        }
        #expect(try await store.committedSteps(job: "j") == [5])
    }
}
