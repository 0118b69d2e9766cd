import Checkpoints
import Foundation
import SpotwiseTesting
import Testing

/// Gang checkpoints on every store: a step is committed only once every rank's shard is in one
/// manifest, a resume finds every rank's shard of the same step, and retention leaves a step
/// whose shards are still arriving alone.
enum GangCheckpointScenario {
    static func shard(rank: Int, step: Int) throws -> URL {
        let directory = temporaryDirectory("shard")
        try Data("rank \(rank) at \(step)".utf8).write(to: directory.appendingPathComponent("shard-\(rank).pkl"))
        return directory
    }

    static func run(on store: any CheckpointStore, job: String) async throws {
        for rank in [1, 0] {
            try await store.commitShard(
                job: job, attempt: 1, step: 100, rank: rank, from: try shard(rank: rank, step: 100))
        }
        let committed = try #require(try await store.commitGang(job: job, attempt: 1, step: 100, worldSize: 2))
        #expect(committed.step == 100 && committed.location == "\(job)/step-0000000100")
        #expect(try await store.commitGang(job: job, attempt: 1, step: 100, worldSize: 2) == committed)
        let manifest = try await store.verify(location: committed.location, manifestDigest: committed.manifestDigest)
        #expect(manifest.worldSize == 2)
        #expect(manifest.files.map(\.path) == ["rank-0/shard-0.pkl", "rank-1/shard-1.pkl"])

        // Step 150: rank 0's shard is in, rank 1's is not. Not committed, not restored, not collected.
        try await store.commitShard(job: job, attempt: 2, step: 150, rank: 0, from: try shard(rank: 0, step: 150))
        #expect(try await store.commitGang(job: job, attempt: 2, step: 150, worldSize: 2) == nil)
        #expect(try await store.committedSteps(job: job) == [100])
        let restoreTarget = temporaryDirectory("gang-restore")
        let restored = try await store.restore(job: job, atMost: nil, into: restoreTarget)
        #expect(restored.restored?.step == 100)
        #expect(GangCheckpoint.worldSize(ofRestored: restoreTarget) == 2)
        let rankOne = GangCheckpoint.resumeDirectory(in: restoreTarget, rank: 1)
        #expect(
            try String(contentsOf: rankOne.appendingPathComponent("shard-1.pkl"), encoding: .utf8) == "rank 1 at 100")
        // A gang grown to three: the new rank starts from rank 0's shard.
        #expect(GangCheckpoint.resumeDirectory(in: restoreTarget, rank: 2).lastPathComponent == "rank-0")
        let kept = try await store.collectGarbage(job: job, keepLast: 1)
        #expect(kept.removedUncommitted.isEmpty && kept.removedCommitted.isEmpty)

        // Rank 1's shard arrives: the step commits, and retention keeps the newest.
        try await store.commitShard(job: job, attempt: 2, step: 150, rank: 1, from: try shard(rank: 1, step: 150))
        #expect(try await store.commitGang(job: job, attempt: 2, step: 150, worldSize: 2)?.step == 150)
        #expect(try await store.committedSteps(job: job) == [100, 150])
        #expect(try await store.collectGarbage(job: job, keepLast: 1).removedCommitted == [100])
        // A shard written after its step was committed changes nothing.
        try await store.commitShard(job: job, attempt: 3, step: 150, rank: 1, from: try shard(rank: 1, step: 999))
        let again = temporaryDirectory("gang-restore")
        _ = try await store.restore(job: job, atMost: nil, into: again)
        #expect(
            try String(contentsOf: again.appendingPathComponent("rank-1/shard-1.pkl"), encoding: .utf8)
                == "rank 1 at 150")
    }
}

@Suite struct GangCheckpointTests {
    @Test func aLocalGangCheckpointCommitsOnlyWithEveryRanksShard() async throws {
        try await GangCheckpointScenario.run(on: LocalCheckpointStore(root: temporaryDirectory("root")), job: "gang-1")
    }

    @Test(.needsMoto) func anS3GangCheckpointCommitsOnlyWithEveryRanksShard() async throws {
        let (store, _) = try await S3CheckpointStoreMotoTests.store()
        try await GangCheckpointScenario.run(on: store, job: "gang-1")
    }

    @Test func aPartThatReachesOutsideItsRankIsRefused() async throws {
        let root = temporaryDirectory("root")
        let store = LocalCheckpointStore(root: root)
        for rank in [0, 1] {
            try await store.commitShard(
                job: "g", attempt: 1, step: 10, rank: rank, from: try GangCheckpointScenario.shard(rank: rank, step: 10)
            )
        }
        // Rank 1's part, rewritten to claim rank 0's file.
        let part = root.appendingPathComponent("g/step-0000000010/rank-1.part.json")
        let text = try String(contentsOf: part, encoding: .utf8).replacingOccurrences(
            of: #"rank-1\/shard-1.pkl"#, with: #"rank-0\/shard-0.pkl"#)
        try Data(text.utf8).write(to: part)
        await #expect(throws: CheckpointError.unsafePath("rank-0/shard-0.pkl")) {
            _ = try await store.commitGang(job: "g", attempt: 1, step: 10, worldSize: 2)
        }
        #expect(try await store.committedSteps(job: "g").isEmpty)
    }
}
