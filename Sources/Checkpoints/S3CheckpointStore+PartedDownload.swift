import CloudAuth
import Crypto
import Foundation

extension S3CheckpointStore {
    /// A file larger than one part comes down as ranged GETs, `downloadParts` in flight, each
    /// written at its own offset; the file is then hashed as it lies on disk (read back from the
    /// page cache), so the digest is what a resume reads. The ranges follow the manifest's size:
    /// an object of another size answers a short or refused range, a checkpoint error, and the
    /// restore moves on to an older checkpoint.
    func downloadInParts(_ key: String, path: String, size: Int64, to file: URL) async throws -> (
        bytes: Int64, sha256: String
    ) {
        let fd = open(file.path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw CheckpointError.io("cannot create \(file.path): \(HashingCopy.errnoText())") }
        defer { close(fd) }
        let part = Int64(partBytes)
        let ranges: [(first: Int64, last: Int64)] = stride(from: Int64(0), to: size, by: partBytes).map { first in
            (first, Swift.min(size, first + part) - 1)
        }
        let objectPath = objectPath(key)
        let sender = sender
        try await withThrowingTaskGroup(of: Void.self) { group in
            var inFlight = 0
            for (first, last) in ranges {
                if inFlight == downloadParts {
                    try await group.next()
                    inFlight -= 1
                }
                group.addTask {
                    let response: AWSRequestSender.Response
                    do {
                        response = try await sender.send(
                            "GET", objectPath, headers: [("range", "bytes=\(first)-\(last)")])
                    } catch let error as AWSError where error.status == 404 {
                        throw CheckpointError.missingFile(path)
                    } catch let error as AWSError where error.status == 416 {
                        throw CheckpointError.io("\(path) is shorter than the \(size) bytes its manifest lists")
                    }
                    let expected = Int(last - first + 1)
                    guard response.status == 206, response.body.count == expected else {
                        throw CheckpointError.io(
                            "S3 answered bytes \(first)-\(last) of \(path) with HTTP \(response.status) and "
                                + "\(response.body.count) bytes, not 206 and \(expected)")
                    }
                    try Self.write(response.body, to: fd, at: first, path: file.path)
                }
                inFlight += 1
            }
            try await group.waitForAll()
        }
        return try HashingCopy.hash(fd, from: 0, upTo: nil, path: file.path, into: SHA256())
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
