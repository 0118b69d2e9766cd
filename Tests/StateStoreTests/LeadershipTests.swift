import Foundation
import SpotwiseCore
import SpotwiseTesting
import Testing

@testable import StateStore

/// The leadership row (`LeadershipStore`): one holder at a time, renewals keep the epoch, a
/// takeover after the time ran out raises it, and a leader's fenced writes stop at the takeover.
@Suite struct LeadershipTests {
    /// Claims on one leadership store: the twin on a manual clock, or SQL on the database's clock
    /// (a claim for 0 ms is expired at once, so no test waits for time to pass).
    func claimsFollowTheRow(_ store: any LeadershipStore, expire: () async throws -> Void) async throws {
        let first = try await store.claimLeadership(holder: "a", address: "http://a", ttlMilliseconds: 60_000)
        #expect(first.won(by: "a") && first.leadership.epoch == 1 && first.leadership.address == "http://a")
        #expect(first.leadership.expiresAtMilliseconds == first.databaseMilliseconds + 60_000)
        let refused = try await store.claimLeadership(holder: "b", address: "http://b", ttlMilliseconds: 60_000)
        #expect(!refused.won(by: "b") && refused.leadership.holder == "a" && refused.leadership.epoch == 1)
        let renewed = try await store.claimLeadership(holder: "a", address: "http://a", ttlMilliseconds: 60_000)
        #expect(renewed.won(by: "a") && renewed.leadership.epoch == 1)

        try await expire()
        let takeover = try await store.claimLeadership(holder: "b", address: "http://b", ttlMilliseconds: 60_000)
        #expect(takeover.won(by: "b") && takeover.leadership.epoch == 2 && takeover.leadership.address == "http://b")
        let late = try await store.claimLeadership(holder: "a", address: "http://a", ttlMilliseconds: 60_000)
        #expect(!late.won(by: "a") && late.leadership.holder == "b")

        try await store.resignLeadership(holder: "a")  // not the holder: nothing changes
        #expect(!(try await store.claimLeadership(holder: "c", address: "c", ttlMilliseconds: 1).won(by: "c")))
        try await store.resignLeadership(holder: "b")
        let next = try await store.claimLeadership(holder: "c", address: "c", ttlMilliseconds: 60_000)
        #expect(next.won(by: "c") && next.leadership.epoch == 3)
    }

    /// How long nobody led before a takeover: what decides the grace a new leader gives leases.
    @Test func aTakeoverKnowsHowLongNobodyLed() async throws {
        let clock = ManualLeaseClock(0)
        let store = InMemoryLeadershipStore(clock: clock)
        let first = try await store.claimLeadership(holder: "a", address: "a", ttlMilliseconds: 3_000)
        #expect(first.previous == nil && first.vacancyMilliseconds == nil)  // nobody ever led
        clock.advance(milliseconds: 1_000)
        #expect(
            try await store.claimLeadership(holder: "a", address: "a", ttlMilliseconds: 3_000).vacancyMilliseconds
                == nil)
        clock.advance(milliseconds: 3_000)  // a's time ran out at 4,000
        #expect(
            try await store.claimLeadership(holder: "b", address: "b", ttlMilliseconds: 3_000).vacancyMilliseconds == 0)
        clock.advance(milliseconds: 60_000)  // b's ran out at 7,000: everyone was down for a minute
        let late = try await store.claimLeadership(holder: "c", address: "c", ttlMilliseconds: 3_000)
        #expect(late.vacancyMilliseconds == 57_000 && late.previous?.holder == "b")
    }

    @Test func theTwinFollowsTheRow() async throws {
        let clock = ManualLeaseClock(1_000)
        let store = InMemoryLeadershipStore(clock: clock)
        try await claimsFollowTheRow(store) { clock.advance(milliseconds: 60_000) }
        let fence = LeadershipFence(holder: "c", epoch: 3)
        #expect(store.leads(fence) && !store.leads(LeadershipFence(holder: "b", epoch: 2)))
    }

    @Test func sqliteFollowsTheRow() async throws {
        let (opened, _) = try await StoreKind.sqlite.open()
        let store = try #require(opened as? SQLStateStore)
        defer { Task { try? await store.close() } }
        try await claimsFollowTheRow(store) {
            try await store.execute("UPDATE coordinator_leadership SET expires_at_ms = 0")
        }
        let now = try await store.databaseMilliseconds()
        #expect(abs(now - Int64(Date().timeIntervalSince1970 * 1000)) < 5_000)
    }
}

@Suite(.needsPostgres) struct LeadershipOnPostgres {
    /// A store of its own, closed however `body` ends (an open pool left behind traps the process).
    func withStore(_ body: (SQLStateStore) async throws -> Void) async throws {
        let (opened, _) = try await StoreKind.postgres.open()
        let store = try #require(opened as? SQLStateStore)
        do {
            try await body(store)
        } catch {
            try? await store.close()
            throw error
        }
        try await store.close()
    }

    @Test func postgresFollowsTheRow() async throws {
        try await withStore { store in
            try await LeadershipTests().claimsFollowTheRow(store) {
                try await store.execute("UPDATE coordinator_leadership SET expires_at_ms = 0")
            }
            let now = try await store.databaseMilliseconds()
            #expect(abs(now - Int64(Date().timeIntervalSince1970 * 1000)) < 5_000)
        }
    }

    /// A leader stalled inside a fenced write holds the row's share lock: a claim fails after a
    /// third of its time instead of waiting for it, and the next claim wins once the write ends.
    @Test func aClaimBlockedByAStalledWriteFailsInsteadOfWaiting() async throws {
        try await withStore { store in
            _ = try await store.claimLeadership(holder: "a", address: "a", ttlMilliseconds: 60_000)
            try await store.execute("UPDATE coordinator_leadership SET expires_at_ms = 0")
            try await store.database.withSession { session in
                try await session.raw("BEGIN").run()
                try await session.raw("SELECT epoch FROM coordinator_leadership WHERE id = 1 FOR SHARE").run()
                await #expect(throws: (any Error).self) {
                    _ = try await store.claimLeadership(holder: "b", address: "b", ttlMilliseconds: 300)
                }
                try await session.raw("ROLLBACK").run()
            }
            let claim = try await store.claimLeadership(holder: "b", address: "b", ttlMilliseconds: 300)
            #expect(claim.won(by: "b") && claim.leadership.epoch == 2)
        }
    }

    /// Sixteen replicas claim an empty row at once: exactly one wins.
    @Test func concurrentClaimsHaveOneWinner() async throws {
        try await withStore { store in
            let winners = try await withThrowingTaskGroup(of: Bool.self) { group in
                for replica in 0..<16 {
                    group.addTask {
                        try await store.claimLeadership(holder: "r\(replica)", address: "x", ttlMilliseconds: 60_000)
                            .won(by: "r\(replica)")
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(winners == 1)
        }
    }

    /// A leader's fenced view writes while its epoch leads; after a takeover every write it tries
    /// fails with `notLeader` and leaves the database as it was, while the new leader's view writes.
    @Test func aDeposedLeadersWritesChangeNothing() async throws {
        try await withStore { store in
            let first = try await store.claimLeadership(holder: "a", address: "a", ttlMilliseconds: 60_000)
            let old = store.fenced(by: LeadershipFence(holder: "a", epoch: first.leadership.epoch))
            let (job, _) = try await old.submit(
                JobSubmission(id: JobID("job-fenced"), spec: sampleSpec(), idempotencyKey: nil, submittedAt: Date()))
            try await old.appendHistory(job: job.id, lines: ["written while leading"], at: Date())

            try await store.execute("UPDATE coordinator_leadership SET expires_at_ms = 0")
            let second = try await store.claimLeadership(holder: "b", address: "b", ttlMilliseconds: 60_000)
            #expect(second.leadership.epoch == first.leadership.epoch + 1)
            let new = store.fenced(by: LeadershipFence(holder: "b", epoch: second.leadership.epoch))

            let lease = Lease(
                job: job.id, attempt: 1, epoch: LeaseEpoch(1), workerID: "w", expiresAtMilliseconds: 1,
                members: [])
            await #expect(throws: StateStoreError.notLeader(epoch: first.leadership.epoch)) {
                try await old.appendHistory(job: job.id, lines: ["written after the takeover"], at: Date())
            }
            await #expect(throws: StateStoreError.notLeader(epoch: first.leadership.epoch)) {
                try await old.grantLease(lease)
            }
            await #expect(throws: StateStoreError.notLeader(epoch: first.leadership.epoch)) {
                _ = try await old.resetLiveLeases(expiringAt: 99)
            }
            await #expect(throws: StateStoreError.notLeader(epoch: first.leadership.epoch)) {
                try await old.update(
                    job.id, expectedVersion: job.version, record: job.record, events: ["stale"], at: Date())
            }
            #expect(try await store.lease(job: job.id) == nil)
            let lines = try await store.history(job.id).map(\.message)
            #expect(lines == ["submitted", "written while leading"])
            #expect(try await store.job(job.id)?.version == job.version)

            try await new.grantLease(lease)
            #expect(try await store.lease(job: job.id)?.epoch == LeaseEpoch(1))
            // Reads are not fenced: a deposed leader still sees the database.
            #expect(try await old.lease(job: job.id)?.epoch == LeaseEpoch(1))
        }
    }
}
