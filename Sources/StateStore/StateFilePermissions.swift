import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The SQLite database holds every job's `env` in plain text, so it is its owner's alone: the
/// file is created (or tightened) to 0600 before SQLite opens it. SQLite creates the `-wal`,
/// `-shm` and `-journal` files later, with the database file's own mode (os_unix.c,
/// `findCreateFileMode` and `unixOpenSharedMemory`), so they are 0600 too. (A umask around the
/// open would change the mode of every file any thread of the process creates meanwhile.)
public enum StateFilePermissions {
    public static let fileMode: mode_t = 0o600
    public static let directoryMode: mode_t = 0o700
    static let companions = ["-wal", "-shm", "-journal"]

    /// Creates the database file 0600 if it is missing; an existing one, and any companion file
    /// an older version left 0644, is tightened to 0600 (where this user owns it).
    public static func restrict(databaseAt path: String) throws(StateStoreError) {
        guard !path.isEmpty, path != ":memory:" else { return }
        let descriptor = try openRegularFile(at: path, naming: "sqlite:\(path)", role: "the database file")
        _ = fchmod(descriptor, fileMode)
        close(descriptor)
        for suffix in companions { _ = chmod(path + suffix, fileMode) }
    }

    /// Opens (creating 0600 if missing) a plain file of the state, never through a symbolic link
    /// and never anything but a regular file: a link planted at the path would otherwise have its
    /// target's mode changed, or (for the lock file) its content replaced. Throws `cannotOpen`
    /// naming the database, which file, and what is allowed.
    static func openRegularFile(at path: String, naming database: String, role: String) throws(StateStoreError)
        -> Int32
    {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, fileMode)
        guard descriptor >= 0 else {
            let failure = errno
            if failure == ELOOP {
                throw .cannotOpen(
                    database,
                    reason:
                        "\(role) \(path) is a symbolic link; state files are opened only as regular files: give --db the real path"
                )
            }
            throw .cannotOpen(
                database,
                reason:
                    "cannot open \(role) \(path): \(String(cString: strerror(failure))) (does the directory exist and is it writable?)"
            )
        }
        var info = stat()
        guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            close(descriptor)
            throw .cannotOpen(
                database, reason: "\(role) \(path) is not a regular file; state files must be regular files")
        }
        return descriptor
    }

    /// Creates a state directory 0700; returns a warning when an existing one is open to others.
    public static func createDirectory(at url: URL) throws -> String? {
        var info = stat()
        if stat(url.path, &info) == 0 {
            let mode = info.st_mode & 0o777
            guard mode & 0o077 != 0 else { return nil }
            return
                "warning: the state directory \(url.path) has mode \(String(mode, radix: 8)): other users can list it (its files are 0600); chmod 700 \(url.path)"
        }
        try FileManager.default.createDirectory(
            at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        guard mkdir(url.path, directoryMode) == 0 || errno == EEXIST else {
            throw StateStoreError.cannotOpen(
                url.path, reason: "cannot create the state directory: \(String(cString: strerror(errno)))")
        }
        _ = chmod(url.path, directoryMode)
        return nil
    }
}
