import Foundation
import PostgresKit
import SpotwiseCore
import StateStore

/// The three stores the conformance suite runs against. PostgreSQL comes from
/// SPOTWISE_TEST_POSTGRES_URL (set by .ci/run); each test gets a database of its own.
enum StoreKind: String, CaseIterable, CustomStringConvertible, Sendable {
    case memory, sqlite, postgres

    var description: String { rawValue }

    static var postgresURL: String? { ProcessInfo.processInfo.environment["SPOTWISE_TEST_POSTGRES_URL"] }
    static var inCI: Bool { ProcessInfo.processInfo.environment["CI"] != nil }

    /// A fresh store, migrated; nil (with the reason printed) when PostgreSQL is not configured.
    /// In CI a missing PostgreSQL is an error, not a skip.
    func open(reopening location: StoreLocation? = nil, migrated: Bool = true) async throws -> (
        any StateStore, StoreLocation
    )? {
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
            guard let base = Self.postgresURL else {
                if Self.inCI {
                    throw StoreSetupError(
                        "CI is set but SPOTWISE_TEST_POSTGRES_URL is not: .ci/run must start PostgreSQL")
                }
                print("skipped (postgres): SPOTWISE_TEST_POSTGRES_URL is unset; .ci/run sets it")
                return nil
            }
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
