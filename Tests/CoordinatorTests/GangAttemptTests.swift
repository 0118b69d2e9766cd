import Coordinator
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SpotwiseCore
import StateStore
import Testing

/// Gangs through the real routes and scheduler, with a manual clock: placed whole, every member
/// holds the one lease, only rank 0 commits and completes, a member's notice stops the gang, a
/// silent member ends the attempt, and a member that may be the lost one is not placed again
/// until it is heard from.
extension AttemptLifecycleTests {
    /// The coordinator after a restart: the same store, nothing in memory.
    func restartedApp() -> some ApplicationProtocol {
        Application(
            router: CoordinatorApplication.router(
                store: store, tokens: AccessTokens(admin: Self.admin, readOnly: [], bootstrap: Self.bootstrap),
                settings: .init(), clock: SystemClock(lease: clock), leasePolicy: policy, board: LiveBoard()))
    }

    func submitGang(_ client: some TestClientProtocol, nodes: Int) async throws -> String {
        let spec =
            "name: ddp\nrun: python3 train.py\nmarket: spot\nresources: {nodes: \(nodes)}\ncheckpoint: {every_steps: 10}\n"
        let response = try await post(client, "/v1/jobs", token: Self.admin, spec)
        #expect(response.status == .created)
        return try JobSummary.decoder.decode(JobSummary.self, from: Data(buffer: response.body)).id
    }

    func beat(
        _ client: some TestClientProtocol, _ worker: (WorkerID, String), _ job: String, epoch: UInt64,
        notice: String? = nil
    )
        async throws -> TestResponse
    {
        let noticeField = notice.map { #", "notice": "\#($0)""# } ?? ""
        return try await post(
            client, "/v1/workers/\(worker.0)/heartbeat", token: worker.1,
            #"{"job": "\#(job)", "attempt": 1, "epoch": \#(epoch), "step": 12\#(noticeField)}"#)
    }

    static func command(_ response: TestResponse) throws -> WorkerProtocol.HeartbeatCommand {
        try JSONDecoder().decode(WorkerProtocol.HeartbeatReply.self, from: Data(buffer: response.body)).command
    }

    /// Registers three spot workers, submits a gang of two and places it; returns the members by
    /// rank (id, token), the worker left over, the job and the epoch.
    func placedGang(_ client: some TestClientProtocol) async throws
        -> (members: [(WorkerID, String)], spare: (WorkerID, String), job: String, epoch: UInt64)
    {
        var workers: [WorkerID: (WorkerID, String)] = [:]
        for _ in 0..<3 {
            let worker = try await register(client)
            workers[worker.0] = worker
        }
        let job = try await submitGang(client, nodes: 2)
        let plan = try await scheduler.scheduleOnce()
        let placed = try #require(plan.placements.first)
        #expect(placed.members.count == 2 && placed.nodes == 2)
        let members = try placed.members.map { try #require(workers[$0]) }
        let spare = try #require(workers.values.first { !placed.members.contains($0.0) })
        let epoch = try #require(try await store.job(JobID(job))?.record.liveAttempt?.epoch.value)
        return (members, spare, job, epoch)
    }

    @Test func aGangIsPlacedWholeAndOnlyRankZeroCommitsOrCompletes() async throws {
        try await app().test(.router) { client in
            let (members, spare, job, epoch) = try await placedGang(client)
            var ports: Set<Int> = []
            for (rank, member) in members.enumerated() {
                let assigned = try #require(try await assignment(client, member.0, member.1))
                #expect(assigned.job == job && assigned.epoch == epoch)
                let gang = try #require(assigned.gang)
                #expect(gang.rank == rank && gang.worldSize == 2 && gang.masterAddress == "127.0.0.1")
                #expect((20_000..<40_000).contains(gang.masterPort))
                ports.insert(gang.masterPort)
            }
            #expect(ports.count == 1)
            #expect(try await assignment(client, spare.0, spare.1) == nil)
            #expect(try await store.segments(job: JobID(job)).first?.nodes == 2)

            #expect(try Self.command(try await beat(client, members[1], job, epoch: epoch)) == .continue)
            #expect(try await beat(client, spare, job, epoch: epoch).status == .forbidden)
            let checkpoint =
                #"{"epoch": \#(epoch), "step": 10, "location": "\#(job)/step-0000000010", "manifest_digest": "\#(Self.digest)"}"#
            let byRankOne = try await post(
                client, "/v1/jobs/\(job)/attempts/1/checkpoints", token: members[1].1, checkpoint)
            #expect(byRankOne.status == .forbidden)
            #expect(String(buffer: byRankOne.body).contains("rank 0 does"))
            let completedByRankOne = try await post(
                client, "/v1/jobs/\(job)/attempts/1/finish", token: members[1].1,
                #"{"epoch": \#(epoch), "outcome": "completed"}"#)
            #expect(completedByRankOne.status == .forbidden)
            #expect(
                try await post(client, "/v1/jobs/\(job)/attempts/1/checkpoints", token: members[0].1, checkpoint).status
                    == .ok)
            #expect(try await store.job(JobID(job))?.record.committedCheckpoint?.step == 10)
            let completed = try await post(
                client, "/v1/jobs/\(job)/attempts/1/finish", token: members[0].1,
                #"{"epoch": \#(epoch), "outcome": "completed"}"#)
            #expect(completed.status == .ok)
            #expect(try await store.job(JobID(job))?.state == .succeeded)
        }
    }

    @Test func aMembersNoticeStopsTheWholeGangAndItsNodeIsNotPlacedOnAgain() async throws {
        try await app().test(.router) { client in
            let (members, spare, job, epoch) = try await placedGang(client)
            #expect(try Self.command(try await beat(client, members[0], job, epoch: epoch)) == .continue)
            let noticed = try await beat(client, members[1], job, epoch: epoch, notice: "spot-termination")
            #expect(try Self.command(noticed) == .checkpointNow)
            #expect(try Self.command(try await beat(client, members[0], job, epoch: epoch)) == .notice)
            let stopped = try await post(
                client, "/v1/jobs/\(job)/attempts/1/finish", token: members[0].1,
                #"{"epoch": \#(epoch), "outcome": "preempted", "notice": true}"#)
            #expect(stopped.status == .ok)
            #expect(try await store.job(JobID(job))?.state == .recovering)
            // Rank 1's node is going away (it may still be heartbeating to see the attempt end).
            let next = try #require(try await scheduler.scheduleOnce().placements.first)
            #expect(Set(next.members) == [members[0].0, spare.0])
        }
    }

    @Test func aSilentMemberEndsTheGangsAttempt() async throws {
        try await app().test(.router) { client in
            let (members, _, job, epoch) = try await placedGang(client)
            for member in members { _ = try await beat(client, member, job, epoch: epoch) }
            // Rank 0 keeps beating; rank 1 goes quiet for longer than a lease (3 s).
            for _ in 0..<3 {
                clock.advance(milliseconds: 1_000)
                #expect(try Self.command(try await beat(client, members[0], job, epoch: epoch)) == .continue)
            }
            clock.advance(milliseconds: 500)
            #expect(try Self.command(try await beat(client, members[0], job, epoch: epoch)) == .stop)
            let stored = try #require(try await store.job(JobID(job)))
            #expect(stored.state == .recovering && stored.record.liveAttempt == nil)
            let history = try await store.history(JobID(job)).map(\.message)
            #expect(history.contains { $0.contains("gang member \(members[1].0) (rank 1) silent for 3 s") })
            #expect(try await beat(client, members[1], job, epoch: epoch).status == .conflict)
        }
    }

    @Test func afterALostPeerTheOtherMembersWaitToBeHeardFromBeforeTheyArePlacedAgain() async throws {
        try await app().test(.router) { client in
            let (members, spare, job, epoch) = try await placedGang(client)
            // Rank 1 lost its peer (rank 0 may be dead): it says so at once.
            let lost = try await post(
                client, "/v1/jobs/\(job)/attempts/1/finish", token: members[1].1,
                #"{"epoch": \#(epoch), "outcome": "preempted", "notice": false}"#)
            #expect(lost.status == .ok)
            #expect(try await store.job(JobID(job))?.state == .recovering)
            clock.advance(milliseconds: 100)
            let next = try #require(try await scheduler.scheduleOnce().placements.first)
            #expect(Set(next.members) == [members[1].0, spare.0])
            #expect(
                try await store.history(JobID(job)).contains {
                    $0.message.contains("1 kept from the previous attempt, 1 new")
                })
        }
    }

    @Test func anElasticGangShrinksToWhatThePoolHasAndGrowsBackWhenCapacityReturns() async throws {
        try await app().test(.router) { client in
            var workers: [WorkerID: (WorkerID, String)] = [:]
            for _ in 0..<2 {
                let worker = try await register(client)
                workers[worker.0] = worker
            }
            let spec =
                "name: elastic\nrun: python3 train.py\nmarket: spot\nresources: {nodes: {min: 2, max: 3}}\ncheckpoint: {every_steps: 10}\n"
            let response = try await post(client, "/v1/jobs", token: Self.admin, spec)
            let job = try JobSummary.decoder.decode(JobSummary.self, from: Data(buffer: response.body)).id
            let first = try #require(try await scheduler.scheduleOnce().placements.first)
            #expect(first.nodes == 2)  // two idle of a maximum of three: it runs with two
            let members = try first.members.map { try #require(workers[$0]) }
            let epoch = try #require(try await store.job(JobID(job))?.record.liveAttempt?.epoch.value)

            // A third worker arrives early: the gang is too young to restart for it.
            let third = try await register(client)
            try await scheduler.scheduleOnce()
            #expect(try Self.command(try await beat(client, members[0], job, epoch: epoch)) == .continue)
            for _ in 0..<12 {
                clock.advance(milliseconds: 1_000)
                for member in members + [third] where member.0 != third.0 {
                    _ = try await beat(client, member, job, epoch: epoch)
                }
                _ = try await assignment(client, third.0, third.1)
            }
            try await scheduler.scheduleOnce()
            let history = try await store.history(JobID(job)).map(\.message)
            #expect(history.contains { $0.contains("the gang of 2 checkpoints and restarts as 3 (max 3)") })
            for member in members {
                #expect(try Self.command(try await beat(client, member, job, epoch: epoch)) == .notice)
            }
            // Rank 0 reports the stop at its checkpoint: a resize, not a preemption.
            let stopped = try await post(
                client, "/v1/jobs/\(job)/attempts/1/finish", token: members[0].1,
                #"{"epoch": \#(epoch), "outcome": "preempted", "notice": true}"#)
            #expect(stopped.status == .ok)
            let ended = try #require(try await store.job(JobID(job)))
            #expect(ended.state == .recovering && ended.record.preemptions == 0)
            let resized = try await store.segments(job: JobID(job)).first
            #expect(resized?.endReason == "resized to a gang of 3" && resized?.endKind == .resized)
            let second = try #require(try await scheduler.scheduleOnce().placements.first)
            #expect(second.nodes == 3 && Set(second.members) == Set(members.map(\.0) + [third.0]))
        }
    }

    @Test func aRestartedCoordinatorKnowsTheGangFromItsLeaseAndStillFindsASilentMember() async throws {
        let (members, _, job, epoch) = try await app().test(.router) { client in try await placedGang(client) }
        // A new process: nothing in memory, the lease (with its members) from the store.
        try await restartedApp().test(.router) { (client) async throws -> Void in
            #expect(try await assignment(client, members[1].0, members[1].1)?.gang?.rank == 1)
            // Rank 1 was never heard by this process: it gets a lease's grace, not a verdict.
            #expect(try Self.command(try await beat(client, members[0], job, epoch: epoch)) == .continue)
            clock.advance(milliseconds: 2_000)
            #expect(try Self.command(try await beat(client, members[0], job, epoch: epoch)) == .continue)
            clock.advance(milliseconds: 1_500)
            #expect(try Self.command(try await beat(client, members[0], job, epoch: epoch)) == .stop)
            #expect(try await store.job(JobID(job))?.state == .recovering)
        }
    }

    @Test func aMemberThatReportsTheSameLostPeerLateIsAliveAndPlacedAgain() async throws {
        try await app().test(.router) { client in
            var workers: [WorkerID: (WorkerID, String)] = [:]
            for _ in 0..<4 {
                let worker = try await register(client)
                workers[worker.0] = worker
            }
            let job = try await submitGang(client, nodes: 3)
            let placed = try #require(try await scheduler.scheduleOnce().placements.first)
            let members = try placed.members.map { try #require(workers[$0]) }
            let spare = try #require(workers.values.first { !placed.members.contains($0.0) })
            let epoch = try #require(try await store.job(JobID(job))?.record.liveAttempt?.epoch.value)
            // Rank 0 died; ranks 1 and 2 both lost it. Rank 2's report ends the attempt, rank 1's
            // comes a moment later and is refused, but shows rank 1 is alive.
            let body = #"{"epoch": \#(epoch), "outcome": "preempted", "notice": false}"#
            #expect(
                try await post(client, "/v1/jobs/\(job)/attempts/1/finish", token: members[2].1, body).status == .ok)
            #expect(
                try await post(client, "/v1/jobs/\(job)/attempts/1/finish", token: members[1].1, body).status
                    == .conflict)
            clock.advance(milliseconds: 100)
            let next = try #require(try await scheduler.scheduleOnce().placements.first)
            #expect(Set(next.members) == [members[1].0, members[2].0, spare.0])
        }
    }
}
