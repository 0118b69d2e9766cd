import Foundation
import Synchronization

extension HashingCopy {
    /// glibc's `copy_file_range` and `sync_file_range`, looked up at run time: Swift's Glibc
    /// module leaves both out (they are declared only under _GNU_SOURCE).
    typealias CopyFileRange =
        @convention(c) (
            Int32, UnsafeMutablePointer<off_t>?, Int32, UnsafeMutablePointer<off_t>?, Int, UInt32
        ) -> Int
    typealias SyncFileRange = @convention(c) (Int32, off_t, off_t, UInt32) -> Int32
    static let copyFileRange: CopyFileRange? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "copy_file_range").map {
        unsafeBitCast($0, to: CopyFileRange.self)
    }
    static let syncFileRange: SyncFileRange? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sync_file_range").map {
        unsafeBitCast($0, to: SyncFileRange.self)
    }
    /// `SYNC_FILE_RANGE_WRITE`: start writing the range's dirty pages, do not wait for them.
    static let startWriting: UInt32 = 2

    /// Copies pieces of one open file into another at explicit offsets (the hash reads the
    /// output from another thread, so no shared file position is used).
    final class Copier: Sendable {
        let input: Int32
        let output: Int32
        let source: URL
        let destination: URL
        let durable: Bool
        /// Whether each piece's writeback starts as soon as it is copied (durable copies only).
        let startsWriteback: Bool
        /// False once this filesystem pair refused `copy_file_range`: copy through a buffer.
        let kernelCopy = Atomic<Bool>(HashingCopy.copyFileRange != nil)

        init(input: Int32, output: Int32, source: URL, destination: URL, durable: Bool, startsWriteback: Bool) {
            self.input = input
            self.output = output
            self.source = source
            self.destination = destination
            self.durable = durable
            self.startsWriteback = startsWriteback
        }

        /// Copies everything from offset 0; returns the bytes copied.
        func copyAll() throws -> Int64 {
            var offset: Int64 = 0
            while case let copied = try copyPiece(at: offset, length: 1 << 30), copied > 0 { offset += Int64(copied) }
            return offset
        }

        /// Copies up to `length` bytes at `offset` (0 at the source's end); a durable copy then
        /// asks the kernel to start writing them out, without waiting.
        func copyPiece(at offset: Int64, length: Int = HashingCopy.pieceBytes) throws -> Int {
            let copied = try copy(at: offset, length: length)
            if durable, startsWriteback, copied > 0, let syncFileRange = HashingCopy.syncFileRange {
                // Only a hint for the disk: the fsync before the manifest is what makes it durable.
                _ = syncFileRange(output, off_t(offset), off_t(copied), HashingCopy.startWriting)
            }
            return copied
        }

        func copy(at offset: Int64, length: Int) throws -> Int {
            while kernelCopy.load(ordering: .relaxed), let copyFileRange = HashingCopy.copyFileRange {
                var from = off_t(offset)
                var to = off_t(offset)
                let copied = copyFileRange(input, &from, output, &to, length, 0)
                if copied >= 0 { return copied }
                if errno == EINTR { continue }
                guard errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP else {
                    throw CheckpointError.io("cannot copy \(source.path): \(HashingCopy.errnoText())")
                }
                kernelCopy.store(false, ordering: .relaxed)  // this filesystem pair cannot
            }
            return try copyThroughBuffer(at: offset, length: length)
        }

        func copyThroughBuffer(at offset: Int64, length: Int) throws -> Int {
            let size = min(length, HashingCopy.pieceBytes)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 4096)
            defer { buffer.deallocate() }
            var count: Int
            repeat { count = pread(input, buffer.baseAddress, size, off_t(offset)) } while count < 0 && errno == EINTR
            guard count >= 0 else { throw CheckpointError.io("cannot read \(source.path): \(HashingCopy.errnoText())") }
            var written = 0
            while written < count {
                let result = pwrite(
                    output, buffer.baseAddress! + written, count - written, off_t(offset) + off_t(written))
                if result < 0 && errno == EINTR { continue }
                guard result > 0 else {
                    throw CheckpointError.io("cannot write \(destination.path): \(HashingCopy.errnoText())")
                }
                written += result
            }
            return count
        }
    }
}
