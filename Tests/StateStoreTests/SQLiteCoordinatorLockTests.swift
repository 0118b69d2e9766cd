import Foundation
import StateStore
import Testing

/// One coordinator per SQLite file (`SQLiteCoordinatorLock`): a second is refused with who holds
/// it, a reader is not, and closing the first lets the next one in.
@Suite struct SQLiteCoordinatorLockTests {
    static func databasePath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("spotwise-lock-\(UUID().uuidString).db").path
    }

    @Test func aSecondCoordinatorIsRefusedUntilTheFirstCloses() async throws {
        let path = Self.databasePath()
        defer {
            for suffix in ["", "-wal", "-shm", ".lock"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        let first = try await SQLStateStore.openSQLite(path: path, coordinator: "pid 1 on first-host, since then")
        try await first.migrate()
        await #expect(
            throws: StateStoreError.inUseByAnotherCoordinator(
                "sqlite:\(path)", holder: "pid 1 on first-host, since then")
        ) {
            _ = try await SQLStateStore.openSQLite(path: path, coordinator: "pid 2")
        }
        let message = StateStoreError.inUseByAnotherCoordinator("sqlite:\(path)", holder: "pid 1").description
        #expect(message.contains("in use by another coordinator (pid 1)") && message.contains("stop that one"))
        // Reading commands take no lock.
        let reader = try await SQLStateStore.openSQLite(path: path)
        #expect(try await reader.schemaVersion() == SQLStateStore.migrations.count)
        try await reader.close()
        let mode =
            try FileManager.default.attributesOfItem(atPath: SQLiteCoordinatorLock.lockPath(databaseAt: path))[
                .posixPermissions] as? Int
        #expect(mode == 0o600)

        try await first.close()
        let next = try await SQLStateStore.openSQLite(path: path, coordinator: "pid 3")
        #expect(try await next.schemaVersion() == SQLStateStore.migrations.count)
        try await next.close()
    }

    @Test func aLockThatCannotBeCreatedSaysWhere() async throws {
        let path = "/nonexistent-\(UUID().uuidString)/state.db"
        do {
            _ = try SQLiteCoordinatorLock.acquire(databaseAt: path, holder: "me")
            Issue.record("locked a database in a directory that does not exist")
        } catch {
            #expect(error.description.contains("\(path).lock"))
        }
    }

    /// A symbolic link planted where the lock file (or the database) goes is refused, and its
    /// target keeps its content and mode; so is a lock path that is not a regular file.
    @Test func aPlantedLinkIsRefusedAndItsTargetUntouched() async throws {
        let path = Self.databasePath()
        let target = path + ".victim"
        defer {
            for suffix in ["", ".lock", ".victim", ".victim-db"] {
                try? FileManager.default.removeItem(atPath: path + suffix)
            }
        }
        try Data("precious\n".utf8).write(to: URL(fileURLWithPath: target))
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: target)
        try FileManager.default.createSymbolicLink(
            atPath: SQLiteCoordinatorLock.lockPath(databaseAt: path), withDestinationPath: target)
        do {
            _ = try SQLiteCoordinatorLock.acquire(databaseAt: path, holder: "pid 9")
            Issue.record("took a lock through a symbolic link")
        } catch {
            #expect(
                error.description.contains("is a symbolic link")
                    && error.description.contains("give --db the real path"))
        }
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "precious\n")
        #expect(try FileManager.default.attributesOfItem(atPath: target)[.posixPermissions] as? Int == 0o644)

        let database = path + ".victim-db"
        try FileManager.default.removeItem(atPath: SQLiteCoordinatorLock.lockPath(databaseAt: path))
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: database)
        await #expect(throws: StateStoreError.self) { _ = try await SQLStateStore.openSQLite(path: path) }
        #expect(!FileManager.default.fileExists(atPath: database))

        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.createDirectory(
            atPath: SQLiteCoordinatorLock.lockPath(databaseAt: path), withIntermediateDirectories: false)
        do {
            _ = try SQLiteCoordinatorLock.acquire(databaseAt: path, holder: "pid 9")
            Issue.record("took a lock on a directory")
        } catch {
            #expect(error.description.contains(".lock"))
        }
    }
}
