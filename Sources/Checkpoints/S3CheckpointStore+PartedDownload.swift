import CloudAuth
import Crypto
import Foundation

extension S3CheckpointStore {
    /// A file larger than one part comes down as ranged GETs, `downloadParts` in flight, each
    /// written at its own offset; the file is then hashed as it lies on disk (read back from the
    /// page cache), so the digest is what a resume reads. The ranges follow the manifest's size:
    /// an object of another size (its `Content-Range` total), a short or refused range, or a
    /// missing object is a checkpoint error, and the restore moves on to an older checkpoint.
    func downloadInParts(_ key: String, path: String, size: Int64, to file: URL) async throws -> (
        bytes: Int64, sha256: String
    ) {
        let fd = open(file.path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw CheckpointError.io("cannot create \(file.path): \(HashingCopy.errnoText())") }
        defer { close(fd) }
        // At most 64 MiB a range: each answer is held in memory until written.
        let part = Int64(min(partBytes, 64 << 20))
        let objectPath = objectPath(key)
        let sender = sender
        try await withThrowingTaskGroup(of: Void.self) { group in
            var inFlight = 0
            var first: Int64 = 0
            // Ranges made one at a time, never past the manifest's size (which may be anything).
            while first < size {
                let start = first
                let last = start + min(part, size - start) - 1
                first = last + 1
                if inFlight == downloadParts {
                    try await group.next()
                    inFlight -= 1
                }
                group.addTask {
                    try await Self.fetchRange(
                        start...last, of: objectPath, path: path, size: size, sender: sender, into: fd, file: file)
                }
                inFlight += 1
            }
            try await group.waitForAll()
        }
        return try HashingCopy.hash(fd, from: 0, upTo: nil, path: file.path, into: SHA256())
    }

    /// One ranged GET, checked (206, the bytes asked for, an object of the manifest's size) and
    /// written at its offset.
    static func fetchRange(
        _ range: ClosedRange<Int64>, of objectPath: String, path: String, size: Int64, sender: AWSRequestSender,
        into fd: Int32, file: URL
    ) async throws {
        let response: AWSRequestSender.Response
        do {
            response = try await sender.send(
                "GET", objectPath, headers: [("range", "bytes=\(range.lowerBound)-\(range.upperBound)")])
        } catch let error as AWSError where error.status == 404 {
            throw CheckpointError.missingFile(path)
        } catch let error as AWSError where error.status == 416 {
            throw CheckpointError.io("\(path) is shorter than the \(size) bytes its manifest lists")
        }
        // `Content-Range: bytes FIRST-LAST/TOTAL`: an object of another size is not this checkpoint's.
        if let total = response.header("Content-Range")?.split(separator: "/").last.flatMap({ Int64($0) }),
            total != size
        {
            throw CheckpointError.sizeMismatch(path: path, expected: size, found: total)
        }
        let expected = Int(range.upperBound - range.lowerBound + 1)
        guard response.status == 206, response.body.count == expected else {
            throw CheckpointError.io(
                "S3 answered bytes \(range.lowerBound)-\(range.upperBound) of \(path) with HTTP \(response.status) "
                    + "and \(response.body.count) bytes, not 206 and \(expected)")
        }
        try write(response.body, to: fd, at: range.lowerBound, path: file.path)
    }

    static func write(_ data: Data, to fd: Int32, at offset: Int64, path: String) throws {
        try data.withUnsafeBytes { bytes in
            var written = 0
            while written < bytes.count {
                let result = pwrite(
                    fd, bytes.baseAddress! + written, bytes.count - written, off_t(offset) + off_t(written))
                if result < 0 && errno == EINTR { continue }
                guard result > 0 else { throw CheckpointError.io("cannot write \(path): \(HashingCopy.errnoText())") }
                written += result
            }
        }
    }
}
