import Foundation
import PostgresKit
import SpotwiseCore
import SpotwiseTesting
import StateStore

/// The three stores the conformance suite runs against. PostgreSQL comes from
/// SPOTWISE_TEST_POSTGRES_URL (scripts/test starts a server and sets it); each test gets a
/// database of its own.
///
/// A conformance test takes `arguments: StoreKind.withoutServers` (or `[StoreKind.sqlite]`) and
/// has a twin in its file's `...OnPostgres` suite, which carries `.needsPostgres`: a run without
/// PostgreSQL reports the twin as skipped rather than passing it (ServerGatingTests checks this).
enum StoreKind: String, CustomStringConvertible, Sendable {
    case memory, sqlite, postgres

    var description: String { rawValue }

    /// The stores every run has.
    static let withoutServers: [StoreKind] = [.memory, .sqlite]

    /// A fresh store, migrated. PostgreSQL without SPOTWISE_TEST_POSTGRES_URL throws: a test that
    /// gets here without `.needsPostgres` fails, never passes.
    func open(reopening location: StoreLocation? = nil, migrated: Bool = true) async throws -> (
        any StateStore, StoreLocation
    ) {
        switch self {
        case .memory:
            let store = InMemoryStateStore()
            return (store, .memory)
        case .sqlite:
            let path: String
            if case .sqlite(let existing) = location {
                path = existing
            } else {
                path =
                    FileManager.default.temporaryDirectory.appendingPathComponent("spotwise-\(UUID().uuidString).db")
                    .path
            }
            let store = try await SQLStateStore.openSQLite(path: path)
            if migrated { try await store.migrate() }
            return (store, .sqlite(path))
        case .postgres:
            let base = try TestServers.postgresURL()
            let url: String
            if case .postgres(let existing) = location {
                url = existing
            } else {
                url = try await Self.createDatabase(base: base)
            }
            let store = try await SQLStateStore.connectPostgres(url: url)
            if migrated { try await store.migrate() }
            return (store, .postgres(url))
        }
    }

    /// A database of its own for one test, so tests can run in parallel.
    static func createDatabase(base: String) async throws -> String {
        let name = "spotwise_test_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased())"
        let admin = try await SQLStateStore.connectPostgres(url: base)
        try await admin.execute("CREATE DATABASE \(name)")
        try await admin.close()
        guard var components = URLComponents(string: base) else { throw StoreSetupError("bad URL \(base)") }
        components.path = "/\(name)"
        return components.string!
    }
}

enum StoreLocation: Sendable {
    case memory
    case sqlite(String)
    case postgres(String)
}

struct StoreSetupError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func sampleSpec(_ name: String = "train", maxPreemptions: Int? = nil) -> JobSpec {
    JobSpec(name: name, run: "python3 train.py", retries: RetryPolicy(maxPreemptions: maxPreemptions))
}

func submission(_ id: String, key: String? = nil, spec: JobSpec = sampleSpec(), at seconds: Double = 1_000)
    -> JobSubmission
{
    JobSubmission(id: JobID(id), spec: spec, idempotencyKey: key, submittedAt: Date(timeIntervalSince1970: seconds))
}
