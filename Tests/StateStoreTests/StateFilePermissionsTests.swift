import Foundation
import SpotwiseCore
import StateStore
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// State at rest (issue 14, item 7): the database holds every job's `env` in plain text, so the
/// state directory is 0700 and `state.db` with its WAL files 0600, whatever the umask.
@Suite struct StateFilePermissionsTests {
    static func mode(_ path: String) -> mode_t? {
        var info = stat()
        return stat(path, &info) == 0 ? info.st_mode & 0o777 : nil
    }

    static func scratch() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("perm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    static func submitJob(_ store: SQLStateStore, _ id: String) async throws {
        _ = try await store.submit(
            JobSubmission(
                id: JobID(id), spec: JobSpec(name: id, run: "x", env: ["SECRET_KEY": "s3cr3t"]), idempotencyKey: nil,
                submittedAt: Date()))
    }

    @Test func aNewDatabaseAndItsWALFilesAreTheOwnersAlone() async throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("state.db").path
        let store = try await SQLStateStore.openSQLite(path: path)
        try await store.migrate()
        try await Self.submitJob(store, "j1")
        for file in [path, path + "-wal", path + "-shm"] {
            #expect(Self.mode(file) == 0o600, "\(file): \(String(Self.mode(file) ?? 0, radix: 8))")
        }
        try await store.close()
    }

    @Test func aDatabaseAnOlderVersionLeftWorldReadableIsTightenedOnOpen() async throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("state.db").path
        let first = try await SQLStateStore.openSQLite(path: path)
        try await first.migrate()
        try await Self.submitJob(first, "j1")
        try await first.close()
        for file in [path, path + "-wal", path + "-shm"] { _ = chmod(file, 0o644) }
        #expect(Self.mode(path) == 0o644)

        let reopened = try await SQLStateStore.openSQLite(path: path)
        try await reopened.migrate()
        try await Self.submitJob(reopened, "j2")
        for file in [path, path + "-wal", path + "-shm"] {
            #expect(Self.mode(file) == 0o600, "\(file): \(String(Self.mode(file) ?? 0, radix: 8))")
        }
        #expect(try await reopened.job(JobID("j1"))?.spec.env["SECRET_KEY"] == "s3cr3t")
        try await reopened.close()
    }

    @Test func aStateDirectoryIsCreated0700AndAnOpenOneIsNamed() throws {
        let base = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: base) }
        let fresh = base.appendingPathComponent("a/.spotwise")
        #expect(try StateFilePermissions.createDirectory(at: fresh) == nil)
        #expect(Self.mode(fresh.path) == 0o700)
        #expect(try StateFilePermissions.createDirectory(at: fresh) == nil, "an existing 0700 directory is fine")

        let open = base.appendingPathComponent("open")
        try FileManager.default.createDirectory(at: open, withIntermediateDirectories: true)
        _ = chmod(open.path, 0o755)
        let warning = try #require(try StateFilePermissions.createDirectory(at: open))
        #expect(warning.contains(open.path) && warning.contains("755") && warning.contains("chmod 700"))
    }

    @Test func aMissingDirectoryIsStillACannotOpenThatSaysWhy() async throws {
        let path = "/nonexistent-\(UUID().uuidString)/state.db"
        await #expect(throws: StateStoreError.self) { try await SQLStateStore.openSQLite(path: path) }
        #expect(Self.mode(path) == nil)
    }
}
