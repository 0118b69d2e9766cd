import Foundation
import Logging
import SpotwiseCore
import SpotwiseTesting
import StateStore
import Testing

@testable import Coordinator

/// Two replicas' live boards shared through one `SharedBoardStore`: what a worker told one
/// replica, and what one asked of a job, decides on the other after a sync round each.
@Suite struct SharedBoardTests {
    struct Replicas {
        let clock = ManualLeaseClock(10_000)
        let shared: any SharedBoardStore
        let a = LiveBoard(sharing: true)
        let b = LiveBoard(sharing: true)
        let aSync: BoardSyncService
        let bSync: BoardSyncService
        let aCursor = BoardSyncService.Cursor()
        let bCursor = BoardSyncService.Cursor()

        init(store: (any SharedBoardStore)? = nil) {
            shared = store ?? InMemorySharedBoard(clock: clock)
            aSync = BoardSyncService(board: a, store: shared, leaseClock: clock, logger: Logger(label: "a"))
            bSync = BoardSyncService(board: b, store: shared, leaseClock: clock, logger: Logger(label: "b"))
        }

        func sync() async {
            await aSync.syncOnce(aCursor)
            await bSync.syncOnce(bCursor)
            await aSync.syncOnce(aCursor)
        }
    }

    @Test func whatAWorkerToldOneReplicaDecidesOnTheOther() async {
        await whatAWorkerToldOneReplicaDecidesOnTheOther(Replicas())
    }

    func whatAWorkerToldOneReplicaDecidesOnTheOther(_ replicas: Replicas) async {
        let (a, b) = (replicas.a, replicas.b)
        a.sawWorker("w1", atMilliseconds: 10_000)
        await replicas.sync()
        #expect(b.placeable("w1") == 10_000)

        a.setLeaving("w1", true, atMilliseconds: 10_000)  // a termination notice reached a
        await replicas.sync()
        #expect(b.placeable("w1") == nil && b.isLeaving("w1"))

        replicas.clock.advance(milliseconds: 2_000)
        b.sawWorker("w1", atMilliseconds: 12_000)  // it asked b for work again: it stayed
        b.setLeaving("w1", false, atMilliseconds: 12_000)
        await replicas.sync()
        #expect(a.placeable("w1") == 12_000 && !a.isLeaving("w1"))

        // An older sighting shared late never replaces a newer one.
        a.sawWorker("w1", atMilliseconds: 11_000)
        await replicas.sync()
        #expect(b.lastSeen("w1") == 12_000)

        // A notice on a, then a sighting on b that says nothing about leaving (a checkpoint
        // commit, a heartbeat without notice): the worker is still leaving everywhere.
        a.setLeaving("w1", true, atMilliseconds: 13_000)
        b.sawWorker("w1", atMilliseconds: 14_000)
        await replicas.sync()
        #expect(a.isLeaving("w1") && b.isLeaving("w1") && b.placeable("w1") == nil)
        #expect(a.lastSeen("w1") == 14_000)
        // It asks b for work before b heard of the notice: the newer word wins on both.
        a.sawWorker("w2", atMilliseconds: 15_000)
        a.setLeaving("w2", true, atMilliseconds: 15_000)
        b.sawWorker("w2", atMilliseconds: 16_000)
        b.setLeaving("w2", false, atMilliseconds: 16_000)
        await replicas.sync()
        #expect(!a.isLeaving("w2") && !b.isLeaving("w2"))
    }

    @Test func whatOneReplicaAskedOfAJobIsAnsweredByTheOther() async {
        await whatOneReplicaAskedOfAJobIsAnsweredByTheOther(Replicas())
    }

    /// The same two histories through SQLite's tables (PostgreSQL's twin is below).
    @Test func theBoardSharesThroughSQL() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("board-\(UUID().uuidString).db").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let store = try await SQLStateStore.openSQLite(path: path)
        try await store.migrate()
        await whatAWorkerToldOneReplicaDecidesOnTheOther(Replicas(store: store))
        await whatOneReplicaAskedOfAJobIsAnsweredByTheOther(Replicas(store: store))
        try await rowsUnchangedForLongArePrunedAndCurrentOnesKept(store)
        try await store.close()
    }

    @Test func theTwinPrunesByAge() async throws {
        let clock = ManualLeaseClock(1_000_000)
        let twin = InMemorySharedBoard(clock: clock)
        try await rowsUnchangedForLongArePrunedAndCurrentOnesKept(twin)
        try await twin.sharePresence([WorkerPresence(worker: "old", seenAtMilliseconds: 1, leaving: false)])
        clock.advance(milliseconds: 10_000)
        try await twin.sharePresence([WorkerPresence(worker: "new", seenAtMilliseconds: 2, leaving: false)])
        let gone = try await twin.pruneSharedBoard(unchangedFor: 5_000)
        #expect(gone.presence == 1 && gone.directives == 0)
        #expect(try await twin.presence(changedAfter: .min).rows.map(\.worker) == ["new"])
    }

    /// Rows changed lately stay; rows unchanged for longer than asked go (the database's clock
    /// cannot be moved here, so "longer" is a cutoff in the future).
    func rowsUnchangedForLongArePrunedAndCurrentOnesKept(_ store: any SharedBoardStore) async throws {
        try await store.sharePresence([WorkerPresence(worker: "w-prune", seenAtMilliseconds: 1, leaving: false)])
        try await store.shareDirectives([
            JobDirective(job: JobID("job-prune"), stop: .init(sinceMilliseconds: 1, committedStep: nil))
        ])
        let kept = try await store.pruneSharedBoard(unchangedFor: 3_600_000)
        #expect(kept.presence == 0 && kept.directives == 0)
        #expect(try await store.presence(changedAfter: .min).rows.contains { $0.worker == "w-prune" })
        let gone = try await store.pruneSharedBoard(unchangedFor: -3_600_000)
        #expect(gone.presence >= 1 && gone.directives >= 1)
        #expect(try await store.presence(changedAfter: .min).rows.isEmpty)
        #expect(try await store.directives(changedAfter: .min).rows.isEmpty)
    }

    func whatOneReplicaAskedOfAJobIsAnsweredByTheOther(_ replicas: Replicas) async {
        let (a, b) = (replicas.a, replicas.b)
        let job = JobID("job-1")
        #expect(a.requestStop(job, atMilliseconds: 10_000, committedStep: 40))
        await replicas.sync()
        #expect(b.stopRequest(job)?.sinceMilliseconds == 10_000 && b.stopRequest(job)?.committedStep == 40)
        // A replica that took over sees the stop asked and does not ask again.
        #expect(!b.requestStop(job, atMilliseconds: 11_000, committedStep: 41))

        let gang = JobID("job-gang")
        b.sawMember("m1", job: gang, epoch: LeaseEpoch(3), atMilliseconds: 10_000, notice: "spot-termination")
        await replicas.sync()
        #expect(a.gangNotice(gang, epoch: LeaseEpoch(3)) == "m1: spot-termination")
        #expect(a.gangNotice(gang, epoch: LeaseEpoch(4)) == nil)

        let elastic = JobID("job-elastic")
        a.sawMember("m2", job: elastic, epoch: LeaseEpoch(7), atMilliseconds: 0)
        #expect(
            a.requestResize(elastic, epoch: LeaseEpoch(7), to: 4, atMilliseconds: 10_000, minimumAgeMilliseconds: 1))
        await replicas.sync()
        #expect(b.resizeTarget(elastic, epoch: LeaseEpoch(7)) == 4)
    }

    /// A gang member whose heartbeats all reach another replica is not silent here.
    @Test func aGangMemberHeardByAnotherReplicaIsNotSilent() async {
        let replicas = Replicas()
        let (a, b) = (replicas.a, replicas.b)
        let job = JobID("job-gang")
        let epoch = LeaseEpoch(2)
        a.sawMember("m0", job: job, epoch: epoch, atMilliseconds: 10_000)
        #expect(
            a.silentMember(
                of: ["m0", "m1"], job: job, epoch: epoch, atMilliseconds: 10_000, silenceMilliseconds: 15_000) == nil)
        for second in 1...30 {
            let now = Int64(10_000 + second * 1_000)
            replicas.clock.advance(milliseconds: 1_000)
            b.sawWorker("m1", atMilliseconds: now)  // m1 beats on b only
            a.sawWorker("m0", atMilliseconds: now)
            a.sawMember("m0", job: job, epoch: epoch, atMilliseconds: now)
            await replicas.sync()
            #expect(
                a.silentMember(
                    of: ["m0", "m1"], job: job, epoch: epoch, atMilliseconds: now, silenceMilliseconds: 15_000)
                    == nil, "second \(second)")
        }
        // Not sharing: the same history would have declared m1 silent on a.
        let alone = LiveBoard()
        alone.sawMember("m0", job: job, epoch: epoch, atMilliseconds: 10_000)
        _ = alone.silentMember(
            of: ["m0", "m1"], job: job, epoch: epoch, atMilliseconds: 10_000, silenceMilliseconds: 15_000)
        alone.sawMember("m0", job: job, epoch: epoch, atMilliseconds: 40_000)
        #expect(
            alone.silentMember(
                of: ["m0", "m1"], job: job, epoch: epoch, atMilliseconds: 40_000, silenceMilliseconds: 15_000)?
                .worker == "m1")
    }

    @Test func aFailedShareIsKeptForTheNextRound() async {
        let board = LiveBoard(sharing: true)
        board.sawWorker("w", atMilliseconds: 5)
        #expect(board.requestStop(JobID("j"), atMilliseconds: 5, committedStep: nil))
        let out = board.takeOutbox()
        #expect(out.presence.count == 1 && out.directives.count == 1)
        #expect(board.takeOutbox().presence.isEmpty)
        board.sawWorker("w", atMilliseconds: 9)
        board.requeue(presence: out.presence, directives: out.directives)
        let again = board.takeOutbox()
        #expect(again.presence.map(\.seenAtMilliseconds) == [9] && again.directives.first?.stop != nil)
        // A board that shares nothing keeps no outbox.
        let alone = LiveBoard()
        alone.sawWorker("w", atMilliseconds: 5)
        #expect(alone.takeOutbox().presence.isEmpty)
    }
}

@Suite(.needsPostgres) struct SharedBoardOnPostgres {
    @Test func theBoardSharesThroughPostgres() async throws {
        try await CoordinatorInvariantTests.Backend.withFreshPostgres { store in
            await SharedBoardTests().whatAWorkerToldOneReplicaDecidesOnTheOther(.init(store: store))
            await SharedBoardTests().whatOneReplicaAskedOfAJobIsAnsweredByTheOther(.init(store: store))
            try await SharedBoardTests().rowsUnchangedForLongArePrunedAndCurrentOnesKept(store)
        }
    }
}
