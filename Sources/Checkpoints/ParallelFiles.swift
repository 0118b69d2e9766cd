import Foundation
import Synchronization

/// Runs one piece of file work per index on `width` threads (`DispatchQueue.concurrentPerform`), and returns the results in index order. A
/// checkpoint's files are independent, so copying, hashing and syncing them one after another
/// left all but one core idle; the first error any piece throws is rethrown after all ended.
enum ParallelFiles {
    final class Results<T: Sendable>: Sendable {
        let slots: Mutex<[Result<T, any Error>?]>
        /// The next piece a free lane takes.
        let next = Atomic<Int>(0)
        init(count: Int) { slots = Mutex(Array(repeating: nil, count: count)) }
    }

    /// `width` pieces run at once at most (1: one after another, the old way).
    static func map<T: Sendable>(_ count: Int, width: Int, _ body: (Int) throws -> T) throws -> [T] {
        guard count > 1, width > 1 else { return try (0..<count).map(body) }
        let results = Results<T>(count: count)
        let lanes = min(width, count)
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let work = body
            // A free lane takes the next piece: a large file does not hold up the small ones.
            DispatchQueue.concurrentPerform(iterations: lanes) { _ in
                while case let index = results.next.add(1, ordering: .relaxed).oldValue, index < count {
                    let result = Result { try work(index) }
                    results.slots.withLock { $0[index] = result }
                }
            }
        }
        return try results.slots.withLock { slots in try slots.map { try $0!.get() } }
    }
}
