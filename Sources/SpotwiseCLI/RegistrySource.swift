import ArgumentParser
import CoordinatorClient
import Foundation
import Registry
import Reports
import SpotwiseCore
import StateStore

/// Where `report`, `models` and `runs` read from: a running coordinator, or the state database
/// itself (so that after `spotwise demo` they work with no coordinator running).
struct SourceOptions: ParsableArguments {
    @OptionGroup var connection: ConnectionOptions
    @Option(
        help: ArgumentHelp(
            "Read the state database directly: sqlite:PATH or postgres://... (default: the coordinator at --url; if none answers, STATE_DIR/state.db)."
        )) var db: String?

    enum Source {
        case remote(CoordinatorClient)
        case local(SQLStateStore)

        func close() async {
            if case .local(let store) = self { try? await store.close() }
        }
    }

    func open() async throws -> Source {
        let environment = ProcessInfo.processInfo.environment
        if let db { return .local(try await Self.openStore(db)) }
        if connection.url != nil || environment["SPOTWISE_URL"] != nil { return .remote(try connection.client()) }
        let directory = connection.stateDir ?? environment["SPOTWISE_HOME"] ?? ".spotwise"
        let file = URL(fileURLWithPath: directory).appendingPathComponent("state.db")
        let base = "http://127.0.0.1:7070"
        if await Self.answers(base) || !FileManager.default.fileExists(atPath: file.path) {
            return .remote(try connection.client())
        }
        FileHandle.standardError.write(Data("(no coordinator at \(base); reading \(file.path))\n".utf8))
        return .local(try await Self.openStore("sqlite:\(file.path)"))
    }

    /// Runs `body` with the source open, and closes it after.
    func using<T>(_ body: (Source) async throws -> T) async throws -> T {
        let opened = try await open()
        do {
            let result = try await body(opened)
            await opened.close()
            return result
        } catch {
            await opened.close()
            throw error
        }
    }

    /// Opens the store at `location`, migrated. A coordinator passes `asCoordinator`: on SQLite it
    /// holds the database's lock, so a second coordinator on the same file is refused.
    static func openStore(_ location: String, creating: Bool = false, asCoordinator: Bool = false) async throws
        -> SQLStateStore
    {
        let store: SQLStateStore
        if location.hasPrefix("sqlite:") {
            let path = String(location.dropFirst("sqlite:".count))
            guard creating || FileManager.default.fileExists(atPath: path) else {
                throw ValidationError("no state database at \(path) (run `spotwise demo` or pass --db)")
            }
            store = try await SQLStateStore.openSQLite(
                path: path, coordinator: asCoordinator ? SQLiteCoordinatorLock.describeThisProcess() : nil)
        } else if location.hasPrefix("postgres://") || location.hasPrefix("postgresql://") {
            store = try await SQLStateStore.connectPostgres(url: location)
        } else {
            throw ValidationError("--db takes sqlite:PATH or postgres://USER@HOST:PORT/DB, not '\(location)'")
        }
        do {
            try await store.migrate()
        } catch {
            try? await store.close()
            throw error
        }
        return store
    }

    /// Whether something answers /health at `base` within a second.
    static func answers(_ base: String) async -> Bool {
        let probe = CoordinatorClient(baseURL: base, token: "", timeout: .seconds(1))
        return (try? await probe.health()) != nil
    }
}

/// Exits with a one-line message for the registry's and the client's errors.
func reportingRegistryFailures(_ body: () async throws -> Void) async throws {
    do {
        try await reportingFailures(body)
    } catch let error as RegistryError {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        throw ExitCode(1)
    } catch let error as StateStoreError {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        throw ExitCode(1)
    }
}
