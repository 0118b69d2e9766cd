import Crypto
import Dispatch
import Foundation
import Synchronization

/// Copies one file and hashes the copy, the stages of a large file overlapped.
///
/// What is hashed is the copy itself, read back from the page cache, so the digest is exactly
/// what a resume reads. The copy is the kernel's (`copy_file_range`, as `cp` does; read/write
/// where that is not supported). A durable copy is fsynced before it returns.
///
/// A file larger than two pieces is a pipeline: one thread copies piece N+1 and asks the kernel
/// to start writing piece N to disk (`sync_file_range`, no wait) while the caller's thread hashes
/// piece N, so copying, hashing and the disk's writeback run at once; the closing `fsync` waits
/// only for what the disk has not written yet. Before, they ran one after another (copy, then
/// hash, then the whole sync): a single 256 MiB file reached about half of its bound.
enum HashingCopy {
    /// One piece of the pipeline.
    static let pieceBytes = 8 << 20
    /// The read-back buffer of the hash.
    static let bufferBytes = 1 << 20

    /// `overlap: false` copies, hashes and syncs one after another (the benchmark's baseline).
    static func run(from source: URL, to destination: URL, durable: Bool, overlap: Bool = true) throws -> (
        Int64, String
    ) {
        let input = open(source.path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard input >= 0 else { throw CheckpointError.missingFile(source.lastPathComponent) }
        defer { close(input) }
        let output = open(destination.path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard output >= 0 else { throw CheckpointError.io("cannot create \(destination.path): \(errnoText())") }
        defer { close(output) }
        var status = stat()
        guard fstat(input, &status) == 0 else {
            throw CheckpointError.io("cannot read \(source.path): \(errnoText())")
        }
        let large = overlap && Int(status.st_size) > 2 * pieceBytes
        let copier = Copier(
            input: input, output: output, source: source, destination: destination, durable: durable,
            startsWriteback: large)
        let result: (Int64, String)
        if large {
            result = try pipelined(copier, destination: destination)
        } else {
            // Small files: one thread, no hand-over; the copy's end is wherever the source ends.
            _ = try copier.copyAll()
            result = try hash(output, from: 0, upTo: nil, path: destination.path, into: SHA256())
        }
        if durable, fsync(output) != 0 {
            throw CheckpointError.io("cannot sync \(destination.path): \(errnoText())")
        }
        return result
    }

    /// The copier runs ahead on its own thread and tells the hash how far it got after each piece.
    static func pipelined(_ copier: Copier, destination: URL) throws -> (Int64, String) {
        let progress = CopyProgress()
        // A thread of its own: the caller may be one of `ParallelFiles`' lanes, which fill the
        // global queue's threads, and a copier queued behind them would stall the hash.
        Thread.detachNewThread {
            defer { progress.exited.signal() }
            do {
                while !progress.stopRequested {
                    let copied = try copier.copyPiece(at: progress.copiedBytes)
                    progress.advance(by: copied, finished: copied == 0)
                    if copied == 0 { return }
                }
            } catch {
                progress.fail(error)
            }
        }
        // Never return (and let the caller close the files) while the copier still uses them:
        // a hash that fails stops it and waits for it.
        defer {
            progress.stop()
            progress.exited.wait()
        }
        var hasher = SHA256()
        var hashed: Int64 = 0
        while true {
            let (copied, finished, failure) = progress.wait(beyond: hashed)
            if let failure { throw failure }
            if copied > hashed {
                (hashed, hasher) = try hashRange(
                    copier.output, from: hashed, upTo: copied, path: destination.path, hasher)
            }
            if finished && hashed == copied { return (hashed, LocalCheckpointStore.hex(hasher.finalize())) }
        }
    }

    /// What the copier has done, waited on by the hash.
    final class CopyProgress: Sendable {
        struct State {
            var copied: Int64 = 0
            var finished = false
            var failure: (any Error)?
        }
        let state = Mutex(State())
        let signal = DispatchSemaphore(value: 0)
        /// Signalled once when the copier's thread is done with the files.
        let exited = DispatchSemaphore(value: 0)
        let stopping = Atomic<Bool>(false)

        var stopRequested: Bool { stopping.load(ordering: .acquiring) }

        func stop() { stopping.store(true, ordering: .releasing) }

        var copiedBytes: Int64 { state.withLock { $0.copied } }

        func advance(by bytes: Int, finished: Bool) {
            state.withLock {
                $0.copied += Int64(bytes)
                $0.finished = finished
            }
            signal.signal()
        }

        func fail(_ error: any Error) {
            state.withLock {
                $0.failure = error
                $0.finished = true
            }
            signal.signal()
        }

        /// Blocks until more than `hashed` bytes are copied, the copy finished, or it failed.
        func wait(beyond hashed: Int64) -> (Int64, Bool, (any Error)?) {
            while true {
                let now = state.withLock { ($0.copied, $0.finished, $0.failure) }
                if now.0 > hashed || now.1 || now.2 != nil { return now }
                signal.wait()
            }
        }
    }

    /// Hashes `fd` from `offset` to `upTo` (the end when nil), continuing `hasher`.
    static func hash(_ fd: Int32, from offset: Int64, upTo end: Int64?, path: String, into hasher: SHA256) throws
        -> (Int64, String)
    {
        let (size, hasher) = try hashRange(fd, from: offset, upTo: end, path: path, hasher)
        return (size, LocalCheckpointStore.hex(hasher.finalize()))
    }

    static func hashRange(_ fd: Int32, from offset: Int64, upTo end: Int64?, path: String, _ start: SHA256) throws
        -> (Int64, SHA256)
    {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferBytes, alignment: 4096)
        defer { buffer.deallocate() }
        var hasher = start
        var position = offset
        while end.map({ position < $0 }) ?? true {
            let wanted = end.map { min(bufferBytes, Int($0 - position)) } ?? bufferBytes
            let count = pread(fd, buffer.baseAddress, wanted, off_t(position))
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw CheckpointError.io("cannot read \(path): \(errnoText())") }
            if count == 0 {
                // The copy is shorter than what was copied into it: someone else truncated it.
                if let end { throw CheckpointError.io("\(path) ended at byte \(position), before \(end)") }
                break
            }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            position += Int64(count)
        }
        return (position, hasher)
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
