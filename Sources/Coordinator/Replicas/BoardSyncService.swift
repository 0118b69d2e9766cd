import Logging
import ServiceLifecycle
import SpotwiseCore
import StateStore

/// Among replicas: every `periodMilliseconds` on `clock`, shares what this replica's board heard
/// and asked since the last round (`LiveBoard.takeOutbox`), then merges what the others shared
/// since its last look. A round re-reads the last `overlapMilliseconds` of changes: a row
/// stamped just before another replica's look but committed after it is still seen.
public struct BoardSyncService: Service {
    let board: LiveBoard
    let store: any SharedBoardStore
    let leaseClock: any LeaseClock
    let periodMilliseconds: Int64
    let logger: Logger
    let clock: any Clock<Duration>
    static let overlapMilliseconds: Int64 = 5_000
    /// Rows no replica changed for this long are deleted (`pruneSharedBoard`), once per
    /// `pruneEveryMilliseconds`, so the tables hold what is current and a starting replica's
    /// first look reads only that.
    static let keepUnchangedMilliseconds: Int64 = 24 * 3_600_000
    static let pruneEveryMilliseconds: Int64 = 600_000

    public init(
        board: LiveBoard, store: any SharedBoardStore, leaseClock: any LeaseClock, periodMilliseconds: Int64 = 1_000,
        logger: Logger, clock: any Clock<Duration> = ContinuousClock()
    ) {
        self.board = board
        self.store = store
        self.leaseClock = leaseClock
        self.periodMilliseconds = periodMilliseconds
        self.logger = logger
        self.clock = clock
    }

    /// Where the last look ended, on the database's clock (shared by the rounds of one service).
    final class Cursor: Sendable {
        let presence = SharedBox<Int64>(.min)
        let directives = SharedBox<Int64>(.min)
        /// When this service last pruned, on the lease clock.
        let pruned = SharedBox<Int64?>(nil)
    }

    public func run() async throws {
        let cursor = Cursor()
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await syncOnce(cursor)
                try await clock.sleep(for: .milliseconds(periodMilliseconds))
            }
        }
        await syncOnce(cursor)  // what this replica heard last reaches the others
    }

    /// One round: share, then merge. A round that cannot share keeps the outbox for the next.
    func syncOnce(_ cursor: Cursor) async {
        let (presence, directives) = board.takeOutbox()
        do {
            try await store.sharePresence(presence)
            try await store.shareDirectives(directives)
        } catch {
            logger.error("sharing the live board failed (kept for the next round): \(error)")
            board.requeue(presence: presence, directives: directives)
            return
        }
        do {
            let seen = try await store.presence(changedAfter: Self.lookFrom(cursor.presence.withLock { $0 }))
            board.merge(presence: seen.rows)
            cursor.presence.withLock { $0 = seen.now }
            let asked = try await store.directives(changedAfter: Self.lookFrom(cursor.directives.withLock { $0 }))
            board.merge(directives: asked.rows, atMilliseconds: leaseClock.nowMilliseconds())
            cursor.directives.withLock { $0 = asked.now }
        } catch {
            logger.error("reading the shared live board failed: \(error)")
        }
        await pruneIfDue(cursor)
    }

    /// Deletes what no replica changed for a day, at most once per `pruneEveryMilliseconds`
    /// (every replica may: the deletes are by age on the database's clock, and idempotent).
    func pruneIfDue(_ cursor: Cursor) async {
        let now = leaseClock.nowMilliseconds()
        if let last = cursor.pruned.withLock({ $0 }), now - last < Self.pruneEveryMilliseconds { return }
        cursor.pruned.withLock { $0 = now }
        do {
            let gone = try await store.pruneSharedBoard(unchangedFor: Self.keepUnchangedMilliseconds)
            if gone.presence + gone.directives > 0 {
                logger.info(
                    "pruned the shared live board: \(gone.presence) worker sighting(s), \(gone.directives) job directive(s) unchanged for a day"
                )
            }
        } catch {
            logger.error("pruning the shared live board failed (tried again later): \(error)")
        }
    }

    static func lookFrom(_ last: Int64) -> Int64 { last == .min ? .min : last - overlapMilliseconds }
}
