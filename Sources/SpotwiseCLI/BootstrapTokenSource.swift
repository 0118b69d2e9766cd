import ArgumentParser
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Where `spotwise worker` finds the bootstrap token: a file named by `--bootstrap-token-file`,
/// else `SPOTWISE_BOOTSTRAP_TOKEN`, else the state directory's `bootstrap.token`. Never the
/// command line, which every user of the machine reads in `ps`; and never a file others may read.
struct BootstrapTokenSource {
    static let variable = "SPOTWISE_BOOTSTRAP_TOKEN"

    var file: String?
    var environment: [String: String]
    var stateDirectory: String

    func token() throws -> String {
        if let file { return try Self.readSecret(file, option: "--bootstrap-token-file") }
        if let value = environment[Self.variable] {
            let token = value.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !token.isEmpty else { throw ValidationError("\(Self.variable) is set but empty") }
            return token
        }
        let saved = URL(fileURLWithPath: stateDirectory).appendingPathComponent("bootstrap.token").path
        guard FileManager.default.fileExists(atPath: saved) else {
            throw ValidationError(
                "no bootstrap token: set \(Self.variable), pass --bootstrap-token-file PATH (mode 0600), or run where \(saved) exists"
            )
        }
        return try Self.readSecret(saved, option: "the state directory's bootstrap.token")
    }

    /// A token file's contents, trimmed, if it is a regular file only its owner may read or write.
    static func readSecret(_ path: String, option: String) throws -> String {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw ValidationError("\(option): cannot read \(path): \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw ValidationError("\(option): \(path) is not a regular file")
        }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw ValidationError(
                "\(option): \(path) has mode \(String(mode, radix: 8)), so others on this machine can read the token; it must be readable by its owner only (chmod 600 \(path))"
            )
        }
        let contents: String
        do {
            contents = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ValidationError("\(option): cannot read \(path): \(error.localizedDescription)")
        }
        let token = contents.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { throw ValidationError("\(option): \(path) is empty") }
        return token
    }
}
