import Foundation
import SpotwiseCore
import Synchronization

/// A lease clock tests move by hand (production uses `MonotonicLeaseClock`).
public final class ManualLeaseClock: LeaseClock {
    private let now: Mutex<Int64>

    public init(_ start: Int64 = 0) {
        now = Mutex(start)
    }

    public func nowMilliseconds() -> Int64 { now.withLock { $0 } }

    public func advance(milliseconds: Int64) {
        now.withLock { $0 += milliseconds }
    }
}

/// A `Clock` tests move by hand: `sleep` parks the caller until `advance` moves time to its
/// deadline, so a service's loop runs one pass per advance and a test never waits for real time.
/// `parked()` tells a test when the code under test has gone back to sleep.
public final class ManualClock: Clock, Sendable {
    public struct Instant: InstantProtocol, Hashable, Sendable {
        public var offset: Duration

        public init(offset: Duration) { self.offset = offset }
        public func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        public func duration(to other: Instant) -> Duration { other.offset - offset }
        public static func < (a: Instant, b: Instant) -> Bool { a.offset < b.offset }
    }

    private struct Sleeper {
        var deadline: Instant
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now = Instant(offset: .zero)
        var sleepers: [UInt64: Sleeper] = [:]
        var cancelled: Set<UInt64> = []
        var nextID: UInt64 = 0
        /// Callers of `parked` waiting for this many sleepers.
        var parkWaiters: [(id: UInt64, count: Int, continuation: CheckedContinuation<Void, Never>)] = []

        /// The `parked` callers whose count has been reached, taken out.
        mutating func reachedParkWaiters() -> [CheckedContinuation<Void, Never>] {
            let reached = parkWaiters.filter { $0.count <= sleepers.count }.map(\.continuation)
            parkWaiters.removeAll { $0.count <= sleepers.count }
            return reached
        }
    }

    private let state = Mutex(State())

    public init() {}

    public var now: Instant { state.withLock { $0.now } }
    public var minimumResolution: Duration { .zero }

    /// How many callers are parked in `sleep`.
    public var sleeping: Int { state.withLock { $0.sleepers.count } }

    public func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let (resume, parked) = state.withLock {
                    state -> (Result<Void, any Error>?, [CheckedContinuation<Void, Never>]) in
                    if state.cancelled.remove(id) != nil { return (.failure(CancellationError()), []) }
                    if deadline <= state.now { return (.success(()), []) }
                    state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    return (nil, state.reachedParkWaiters())
                }
                if let resume { continuation.resume(with: resume) }
                for waiter in parked { waiter.resume() }
            }
        } onCancel: {
            let sleeper = state.withLock { state -> Sleeper? in
                guard let sleeper = state.sleepers.removeValue(forKey: id) else {
                    state.cancelled.insert(id)
                    return nil
                }
                return sleeper
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves time forward and wakes every sleeper whose deadline has come.
    public func advance(by duration: Duration) {
        let woken = state.withLock { state -> [Sleeper] in
            state.now = state.now.advanced(by: duration)
            let due = state.sleepers.filter { $0.value.deadline <= state.now }
            for id in due.keys { state.sleepers.removeValue(forKey: id) }
            return Array(due.values)
        }
        for sleeper in woken { sleeper.continuation.resume() }
    }

    /// Returns once `count` callers are parked in `sleep`: the code under test finished what it
    /// does between sleeps. (Give the test a `.timeLimit`: code that never sleeps again hangs here.)
    /// A cancelled wait (a test's time limit) returns at once.
    public func parked(_ count: Int = 1) async {
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.cancelled.remove(id) != nil || state.sleepers.count >= count { return true }
                    state.parkWaiters.append((id, count, continuation))
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let waiting = state.withLock { state -> CheckedContinuation<Void, Never>? in
                guard let index = state.parkWaiters.firstIndex(where: { $0.id == id }) else {
                    state.cancelled.insert(id)
                    return nil
                }
                return state.parkWaiters.remove(at: index).continuation
            }
            waiting?.resume()
        }
    }
}

/// Wall-clock time and the lease clock moved together by the test: one manual time for a
/// coordinator in the test process.
public final class ManualTime: CoordinatorClock {
    private let state: Mutex<(milliseconds: Int64, date: Date)>

    public init(leaseMilliseconds: Int64 = 1_000, date: Date = Date(timeIntervalSince1970: 1_800_000_000)) {
        state = Mutex((leaseMilliseconds, date))
    }

    public func nowMilliseconds() -> Int64 { state.withLock { $0.milliseconds } }

    /// Wall-clock time (history lines, ledger rows, prices).
    public var now: Date { state.withLock { $0.date } }

    public func advance(milliseconds: Int64) {
        state.withLock {
            $0.milliseconds += milliseconds
            $0.date += Double(milliseconds) / 1000
        }
    }
}
