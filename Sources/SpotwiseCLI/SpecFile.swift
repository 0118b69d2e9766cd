import Foundation
import SpotwiseCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads a job spec file for `spotwise validate` and `spotwise submit`: a regular file of at most
/// `InputLimits.maxSpecBytes`. The type is checked with `stat` before the file is opened, so a
/// FIFO, a device or a directory gets a message saying what it is instead of a read that hangs
/// or a Foundation error code.
enum SpecFile {
    static func contents(of path: String) -> Result<[UInt8], SpecValidationError> {
        func refused(_ problem: String, found: String? = nil) -> Result<[UInt8], SpecValidationError> {
            .failure(
                SpecValidationError(diagnostics: [
                    SpecDiagnostic(
                        file: path, line: 1, column: 1, field: "(file)", problem: problem, found: found,
                        allowed: "a regular file holding a YAML or JSON spec")
                ]))
        }
        func systemError(_ code: Int32) -> String { String(cString: strerror(code)).lowercased() }

        var info = stat()
        guard stat(path, &info) == 0 else { return refused("cannot read the file", found: systemError(errno)) }
        if let kind = kind(of: info) { return refused(kind.problem, found: kind.found) }
        // Non-blocking: if the path became a FIFO since `stat`, the open still returns at once.
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { return refused("cannot read the file", found: systemError(errno)) }
        defer { close(descriptor) }
        guard fstat(descriptor, &info) == 0 else { return refused("cannot read the file", found: systemError(errno)) }
        if let kind = kind(of: info) { return refused(kind.problem, found: kind.found) }
        if info.st_size > InputLimits.maxSpecBytes {
            return .failure(
                SpecValidationError(diagnostics: [
                    SpecDiagnostic(
                        file: path, line: 1, column: 1, field: "(file)", problem: "spec too large",
                        found: "\(info.st_size) bytes", allowed: "at most \(InputLimits.maxSpecBytes) bytes")
                ]))
        }
        // One byte past the limit, so a file that grew since `fstat` is still caught as too large.
        var bytes = [UInt8](repeating: 0, count: InputLimits.maxSpecBytes + 1)
        var count = 0
        while count < bytes.count {
            let got = bytes.withUnsafeMutableBytes { buffer in
                read(descriptor, buffer.baseAddress! + count, buffer.count - count)
            }
            if got < 0 {
                if errno == EINTR { continue }
                return refused("cannot read the file", found: systemError(errno))
            }
            if got == 0 { break }
            count += got
        }
        return .success(Array(bytes[..<count]))
    }

    /// What a path that is not a regular file is, as a problem and what was found; nil for a
    /// regular file.
    static func kind(of info: stat) -> (problem: String, found: String)? {
        switch info.st_mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFDIR: return ("is a directory", "a directory")
        case S_IFIFO: return ("not a regular file", "a FIFO (named pipe)")
        case S_IFCHR: return ("not a regular file", "a character device")
        case S_IFBLK: return ("not a regular file", "a block device")
        case S_IFSOCK: return ("not a regular file", "a socket")
        default: return ("not a regular file", "a special file")
        }
    }
}
