import Foundation
import SpotwiseCore
import Synchronization

/// What one replica heard from a worker, for the others: when it was last heard from (on the
/// shared lease clock), and whether it said its node is going away, with when it said so (the
/// newest word on leaving wins, whatever sighting carried it; nil: it never said).
public struct WorkerPresence: Sendable, Hashable {
    public var worker: WorkerID
    public var seenAtMilliseconds: Int64
    public var leaving: Bool
    public var leavingSaidAtMilliseconds: Int64?

    public init(worker: WorkerID, seenAtMilliseconds: Int64, leaving: Bool, leavingSaidAtMilliseconds: Int64? = nil) {
        self.worker = worker
        self.seenAtMilliseconds = seenAtMilliseconds
        self.leaving = leaving
        self.leavingSaidAtMilliseconds = leavingSaidAtMilliseconds
    }

    /// How a shared sighting meets the stored one: the newer sighting, the newer word on leaving.
    public func merged(into stored: WorkerPresence?) -> WorkerPresence {
        guard let stored else { return self }
        var merged = stored
        merged.seenAtMilliseconds = max(stored.seenAtMilliseconds, seenAtMilliseconds)
        if let said = leavingSaidAtMilliseconds, said > (stored.leavingSaidAtMilliseconds ?? .min) {
            merged.leaving = leaving
            merged.leavingSaidAtMilliseconds = said
        }
        return merged
    }
}

/// What was asked of a running job, for heartbeats that reach another replica: to checkpoint
/// and stop (its `max_cost` reached), and, for a gang attempt (`gangEpoch`), to restart with
/// another size or to checkpoint because a member saw an interruption notice.
public struct JobDirective: Sendable, Hashable {
    public struct Stop: Sendable, Hashable {
        public var sinceMilliseconds: Int64
        public var committedStep: Int?

        public init(sinceMilliseconds: Int64, committedStep: Int?) {
            self.sinceMilliseconds = sinceMilliseconds
            self.committedStep = committedStep
        }
    }

    public var job: JobID
    /// The stop asked, if one was (a shared directive without one leaves a stored stop alone).
    public var stop: Stop?
    /// The job ended: any stop asked of it is cleared.
    public var clearsStop: Bool
    public var gangEpoch: LeaseEpoch?
    public var resizeTo: Int?
    public var gangNotice: String?

    public init(
        job: JobID, stop: Stop? = nil, clearsStop: Bool = false, gangEpoch: LeaseEpoch? = nil, resizeTo: Int? = nil,
        gangNotice: String? = nil
    ) {
        self.job = job
        self.stop = stop
        self.clearsStop = clearsStop
        self.gangEpoch = gangEpoch
        self.resizeTo = resizeTo
        self.gangNotice = gangNotice
    }

    /// How a shared directive meets the stored one: a stop once asked stays asked (the first
    /// asking kept) until one says it is cleared; a newer gang epoch replaces the gang's fields, the same epoch keeps what
    /// was said first, an older one changes nothing.
    public func merged(into stored: JobDirective?) -> JobDirective {
        guard var merged = stored else {
            var first = self
            if clearsStop { first.stop = nil }
            first.clearsStop = false
            return first
        }
        if clearsStop {
            merged.stop = nil
        } else if let stop, merged.stop == nil {
            merged.stop = stop
        }
        if let epoch = gangEpoch {
            if merged.gangEpoch.map({ epoch > $0 }) ?? true {
                merged.gangEpoch = epoch
                merged.resizeTo = resizeTo
                merged.gangNotice = gangNotice
            } else if merged.gangEpoch == epoch {
                merged.resizeTo = merged.resizeTo ?? resizeTo
                merged.gangNotice = merged.gangNotice ?? gangNotice
            }
        }
        return merged
    }
}

/// Where replicas share what they heard from workers and asked of jobs (`BoardSyncService`).
/// `SQLStateStore` keeps it in its database; `InMemorySharedBoard` is the twin for tests.
/// Times are on the shared lease clock; `changedAfter` queries use the database's own stamp.
public protocol SharedBoardStore: Sendable {
    /// Records presence (`WorkerPresence.merged(into:)`): an older sighting, or an older word on
    /// leaving, never replaces a newer one.
    func sharePresence(_ presence: [WorkerPresence]) async throws
    /// Presence last changed after `milliseconds` (the database's clock), and the database's
    /// clock now (the next `milliseconds`).
    func presence(changedAfter milliseconds: Int64) async throws -> (rows: [WorkerPresence], now: Int64)
    /// Merges each directive into the stored one (`JobDirective.merged(into:)`).
    func shareDirectives(_ directives: [JobDirective]) async throws
    func directives(changedAfter milliseconds: Int64) async throws -> (rows: [JobDirective], now: Int64)
    /// Deletes presence and directives that did not change for `milliseconds` (a worker silent
    /// that long is not placeable and no gang counts on it; a stop or gang notice that old
    /// concerns an attempt long over); returns how many rows of each went.
    func pruneSharedBoard(unchangedFor milliseconds: Int64) async throws -> (presence: Int, directives: Int)
}

/// The in-memory twin of the shared board, on an injected clock.
public final class InMemorySharedBoard: SharedBoardStore {
    private struct State {
        var presence: [WorkerID: (row: WorkerPresence, changed: Int64)] = [:]
        var directives: [JobID: (row: JobDirective, changed: Int64)] = [:]
    }
    private let state = Mutex(State())
    private let clock: any LeaseClock

    public init(clock: any LeaseClock) { self.clock = clock }

    public func sharePresence(_ presence: [WorkerPresence]) async throws {
        let now = clock.nowMilliseconds()
        state.withLock { state in
            for row in presence {
                state.presence[row.worker] = (row.merged(into: state.presence[row.worker]?.row), now)
            }
        }
    }

    public func presence(changedAfter milliseconds: Int64) async throws -> (rows: [WorkerPresence], now: Int64) {
        let now = clock.nowMilliseconds()
        let rows = state.withLock { state in
            state.presence.values.filter { $0.changed > milliseconds }.map(\.row).sorted { $0.worker < $1.worker }
        }
        return (rows, now)
    }

    public func shareDirectives(_ directives: [JobDirective]) async throws {
        let now = clock.nowMilliseconds()
        state.withLock { state in
            for directive in directives {
                state.directives[directive.job] = (directive.merged(into: state.directives[directive.job]?.row), now)
            }
        }
    }

    public func pruneSharedBoard(unchangedFor milliseconds: Int64) async throws -> (presence: Int, directives: Int) {
        let cutoff = clock.nowMilliseconds() - milliseconds
        return state.withLock { state in
            let before = (state.presence.count, state.directives.count)
            state.presence = state.presence.filter { $0.value.changed >= cutoff }
            state.directives = state.directives.filter { $0.value.changed >= cutoff }
            return (before.0 - state.presence.count, before.1 - state.directives.count)
        }
    }

    public func directives(changedAfter milliseconds: Int64) async throws -> (rows: [JobDirective], now: Int64) {
        let now = clock.nowMilliseconds()
        let rows = state.withLock { state in
            state.directives.values.filter { $0.changed > milliseconds }.map(\.row).sorted {
                $0.job.rawValue < $1.job.rawValue
            }
        }
        return (rows, now)
    }
}
