import Checkpoints
import CoordinatorClient
import Foundation
import SpotwiseCore
import SpotwiseTesting
import Testing

/// A gang end to end with real parts: a live coordinator, three agents, the data-parallel digits
/// trainer as real processes talking TCP through rank 0. A notice to one member stops the whole
/// gang at one step, committed with both ranks' shards in one manifest; the gang resumes there on
/// the member that stayed plus a new one, and its model is registered.
extension AgentInterruptionTests {
    @Test func aNoticeToOneMemberCheckpointsTheWholeGangAndItResumesOnTheKeptNodePlusANewOne() async throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("gang-test-\(UUID().uuidString)")
        try await withLiveCoordinator { url, market, marketURL, group in
            let client = CoordinatorClient(baseURL: url, token: Self.admin, timeout: .seconds(5))
            let spec = """
                name: digits-gang
                run: python3 jobs/digits-ddp/train.py
                market: spot
                resources: {nodes: 2}
                checkpoint: {every_steps: 50, keep_last: 3, storage: "file://\(scratch.path)/checkpoints"}
                hyperparameters: {epochs: 10, seed: 7}
                register: {model: digits-gang-e2e, gate: {metric: auc, min: 0.85}}
                """
            let id = try await client.submit(spec: Data(spec.utf8), idempotencyKey: "gang").id
            for name in ["g-1", "g-2"] {
                group.addTask { try await agent(name, coordinator: url, market: marketURL, scratch: scratch).run() }
            }
            _ = try await waitFor(client, id) { ($0.progress?.step ?? 0) >= 70 || $0.isTerminal }
            market.postNotice(node: "g-2", terminationAt: Date().addingTimeInterval(10))
            _ = try await waitFor(client, id) { $0.state == "recovering" || $0.isTerminal }
            // The attempt the notice ended is the newest. (On a loaded machine the gang's first
            // attempt can miss its 3 s lease while its trainers start, and be lost and placed again
            // before it makes progress: a loss the coordinator is right to declare.)
            let first = try #require(try await client.job(id).segments?.last)
            #expect(first.endReason == "preempted with notice" && first.nodes == 2)
            let stopped = try #require(first.lastStep)
            #expect(first.committedStep == stopped, "steps lost with a notice: \(stopped - (first.committedStep ?? 0))")

            // One manifest holds both ranks' shards of that step.
            let store = LocalCheckpointStore(root: scratch.appendingPathComponent("checkpoints"))
            let checkpoint = try #require(try await client.job(id).checkpoint)
            #expect(checkpoint.step == stopped)
            let manifest = try await store.verify(
                location: checkpoint.location, manifestDigest: checkpoint.manifestDigest)
            #expect(manifest.worldSize == 2)
            #expect(
                manifest.files.map(\.path) == [
                    "rank-0/shard-0.pkl", "rank-0/spotwise-checkpoint.json", "rank-1/shard-1.pkl",
                    "rank-1/spotwise-checkpoint.json",
                ])

            // g-2's node is going away; g-1 stays and g-3 replaces g-2.
            group.addTask { try await agent("g-3", coordinator: url, market: marketURL, scratch: scratch).run() }
            let done = try await waitFor(client, id) { $0.isTerminal }
            #expect(done.state == "succeeded")
            let history = (try await client.job(id).history ?? []).map(\.message)
            #expect(history.contains { $0.contains("1 kept from the previous attempt, 1 new") })
            let segments = try await client.job(id).segments ?? []
            let noticed = try #require(segments.firstIndex { $0.attempt == first.attempt })
            #expect(segments.count == noticed + 2, "one attempt after the notice: \(segments.map(\.attempt))")
            #expect(segments.last?.resumedFromStep == stopped)
            #expect((done.metrics?["auc"] ?? 0) > 0.9)
            let version = try #require(try await client.models().first?.latest)
            #expect(version.model == "digits-gang-e2e" && version.version == 1)
        }
        try? FileManager.default.removeItem(at: scratch)
    }
}
