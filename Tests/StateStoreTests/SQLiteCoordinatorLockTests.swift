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
}
