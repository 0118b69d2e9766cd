import Checkpoints
import CloudAuth
import Foundation
import SpotwiseTesting
import Testing

/// The S3 store against the moto server on loopback (`SPOTWISE_TEST_MOTO_URL`, which scripts/test
/// sets). Without it every test here is reported as skipped.
@Suite(.needsMoto) struct S3CheckpointStoreMotoTests {
    /// A store on a fresh bucket of the moto server; throws when none is configured.
    static func store(partBytes: Int = 5 << 20) async throws -> (S3CheckpointStore, AWSRequestSender) {
        let url = try TestServers.motoURL()
        let sender = AWSRequestSender(
            endpoint: url, region: "us-east-1", service: "s3",
            credentials: { AWSCredentials(accessKeyID: "AKIDTEST", secretAccessKey: "test-secret") },
            sleep: { _ in })
        let bucket = "spotwise-\(UUID().uuidString.prefix(8).lowercased())"
        _ = try await sender.send("PUT", "/\(bucket)")
        return (S3CheckpointStore(bucket: bucket, prefix: "team/ckpt", sender: sender, partBytes: partBytes), sender)
    }

    static func directory(_ files: [String: Data]) throws -> URL {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("s3src-\(UUID().uuidString)")
        for (path, data) in files {
            let url = base.appendingPathComponent(path)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try data.write(to: url)
        }
        return base
    }

    static func random(_ count: Int, seed: UInt8) -> Data {
        Data((0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed) &+ ($0 >> 13)) })
    }

    @Test func aLargeCheckpointGoesUpInPartsAndComesBackVerified() async throws {
        let (store, _) = try await Self.store()
        // 12 MiB + 7 bytes: three parts of 5 MiB, 5 MiB and 2 MiB + 7, sent in parallel.
        let big = Self.random(12 * 1_048_576 + 7, seed: 3)
        let source = try Self.directory(["weights.bin": big, "opt/state.json": Data(#"{"lr": 0.1}"#.utf8)])
        let committed = try await store.commit(job: "job-1", attempt: 1, step: 50, from: source)
        #expect(committed.location == "job-1/step-0000000050" && committed.bytes == Int64(big.count) + 11)
        // Committing the same step again changes nothing.
        #expect(try await store.commit(job: "job-1", attempt: 2, step: 50, from: source) == committed)
        #expect(try await store.committedSteps(job: "job-1") == [50])

        let target = FileManager.default.temporaryDirectory.appendingPathComponent("s3dst-\(UUID().uuidString)")
        let restored = try await store.restore(job: "job-1", atMost: nil, into: target)
        #expect(restored.restored == committed && restored.skipped.isEmpty)
        #expect(try Data(contentsOf: target.appendingPathComponent("weights.bin")) == big)
        #expect(
            try String(contentsOf: target.appendingPathComponent("opt/state.json"), encoding: .utf8) == #"{"lr": 0.1}"#)
        let manifest = try await store.verify(location: committed.location, manifestDigest: committed.manifestDigest)
        #expect(manifest.files.map(\.path) == ["opt/state.json", "weights.bin"])
        try? FileManager.default.removeItem(at: source)
        try? FileManager.default.removeItem(at: target)
    }

    @Test func aTornOrTamperedCheckpointIsNeverRestoredAndRetentionCleansUp() async throws {
        let (store, sender) = try await Self.store()
        let bucket = store.bucket
        for step in [10, 20, 30] {
            let source = try Self.directory(["w.bin": Self.random(1_000 + step, seed: UInt8(step))])
            _ = try await store.commit(job: "job-2", attempt: 1, step: step, from: source)
            try? FileManager.default.removeItem(at: source)
        }
        // A torn save (files, no manifest) at 40, and step 30's file overwritten after its commit.
        _ = try await sender.send("PUT", "/\(bucket)/team/ckpt/job-2/step-0000000040/w.bin", body: Data("half".utf8))
        _ = try await sender.send("PUT", "/\(bucket)/team/ckpt/job-2/step-0000000030/w.bin", body: Data(count: 1_030))
        #expect(try await store.committedSteps(job: "job-2") == [10, 20, 30])

        let target = FileManager.default.temporaryDirectory.appendingPathComponent("s3dst-\(UUID().uuidString)")
        let restored = try await store.restore(job: "job-2", atMost: nil, into: target)
        #expect(restored.restored?.step == 20)
        #expect(restored.skipped.map(\.step) == [30] && restored.skipped[0].reason.contains("w.bin"))
        #expect(try Data(contentsOf: target.appendingPathComponent("w.bin")) == Self.random(1_020, seed: 20))

        let collected = try await store.collectGarbage(job: "job-2", keepLast: 2)
        #expect(collected.removedCommitted == [10] && collected.removedUncommitted == ["step-0000000040"])
        #expect(try await store.committedSteps(job: "job-2") == [20, 30])
        try? FileManager.default.removeItem(at: target)
    }

    @Test func aModelArtifactIsKeptAndAChangedOneFailsVerification() async throws {
        let (store, sender) = try await Self.store()
        let source = try Self.directory([
            "metrics.json": Data(#"{"auc": 0.99}"#.utf8), "model.npz": Self.random(4_096, seed: 9),
        ])
        let artifact = try await store.commitArtifact(job: "job-3", attempt: 4, from: source)
        #expect(artifact.location == "job-3/model-attempt-4")
        _ = try await store.collectGarbage(job: "job-3", keepLast: 1)
        #expect(
            try await store.verify(location: artifact.location, manifestDigest: artifact.manifestDigest).files.count
                == 2)
        await #expect(throws: CheckpointError.self) {
            _ = try await store.verify(location: artifact.location, manifestDigest: String(repeating: "0", count: 64))
        }
        _ = try await sender.send(
            "PUT", "/\(store.bucket)/team/ckpt/job-3/model-attempt-4/model.npz", body: Self.random(4_096, seed: 10))
        await #expect(throws: CheckpointError.self) {
            _ = try await store.verify(location: artifact.location, manifestDigest: artifact.manifestDigest)
        }
        await #expect(throws: CheckpointError.self) {
            _ = try await store.verify(location: "job-3/../x", manifestDigest: artifact.manifestDigest)
        }
        try? FileManager.default.removeItem(at: source)
    }

    /// A large file comes back as ranged GETs, several in flight, and is checked as a whole: an
    /// object cut short, changed at the same length, or gone, or a manifest that lies about its
    /// size, is never restored.
    @Test func aLargeFileFetchedInPartsIsCheckedAsAWhole() async throws {
        var (store, sender) = try await Self.store()
        store.downloadParts = 4
        let size = 11 * 1_048_576 + 3  // three ranges of 5 MiB, 5 MiB and 1 MiB + 3
        for step in [10, 20, 30, 40, 50] {
            let source = try Self.directory(["weights.bin": Self.random(size, seed: UInt8(step))])
            _ = try await store.commit(job: "job-5", attempt: 1, step: step, from: source)
            try? FileManager.default.removeItem(at: source)
        }
        let key = { (step: Int) in "/\(store.bucket)/team/ckpt/job-5/step-00000000\(step)/weights.bin" }
        _ = try await sender.send("PUT", key(20), body: Self.random(size - 1_048_576, seed: 20))
        var changed = Self.random(size, seed: 30)
        changed[size - 2] ^= 0xFF  // in the last range
        _ = try await sender.send("PUT", key(30), body: changed)
        _ = try await sender.send("DELETE", key(40))
        // A manifest that claims a petabyte: one range is asked for and its total refused.
        let manifestKey = "/\(store.bucket)/team/ckpt/job-5/step-0000000050/manifest.json"
        let manifest = String(decoding: try await sender.send("GET", manifestKey).body, as: UTF8.self)
        let claimed = manifest.replacingOccurrences(of: "\(size)", with: "1000000000000000")
        #expect(claimed != manifest)
        _ = try await sender.send("PUT", manifestKey, body: Data(claimed.utf8))

        let target = FileManager.default.temporaryDirectory.appendingPathComponent("s3dst-\(UUID().uuidString)")
        let restored = try await store.restore(job: "job-5", atMost: nil, into: target)
        #expect(restored.restored?.step == 10)
        #expect(restored.skipped.map(\.step) == [50, 40, 30, 20])
        #expect(restored.skipped.allSatisfy { $0.reason.contains("weights.bin") })
        #expect(try Data(contentsOf: target.appendingPathComponent("weights.bin")) == Self.random(size, seed: 10))
        try? FileManager.default.removeItem(at: target)
    }

    @Test func s3ErrorsAreClassified() async throws {
        let (store, sender) = try await Self.store()
        do {
            _ = try await sender.send("GET", "/\(store.bucket)/no/such/key")
            Issue.record("a missing key was found")
        } catch let error as AWSError {
            #expect(error.status == 404 && error.code == "NoSuchKey" && error.kind == .user)
        }
        do {
            _ = try await sender.send("GET", "/no-such-bucket-\(UUID().uuidString.prefix(6).lowercased())/k")
            Issue.record("a missing bucket was found")
        } catch let error as AWSError {
            #expect(error.code == "NoSuchBucket")
        }
    }
}
