import Foundation
import Testing

/// The servers some tests need: PostgreSQL (`SPOTWISE_TEST_POSTGRES_URL`) and the moto server
/// (`SPOTWISE_TEST_MOTO_URL`). `scripts/test` starts both on loopback and sets the variables.
/// A test that needs one carries `.needsPostgres` or `.needsMoto`, so a run without the server
/// reports it as skipped (and `scripts/test` fails on any skipped test) instead of passing it.
public enum TestServers {
    public static let postgresVariable = "SPOTWISE_TEST_POSTGRES_URL"
    public static let motoVariable = "SPOTWISE_TEST_MOTO_URL"

    public static var hasPostgres: Bool { value(of: postgresVariable) != nil }
    public static var hasMoto: Bool { value(of: motoVariable) != nil }

    /// The PostgreSQL URL, e.g. `postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable`.
    /// Throws when it is unset: a test that reaches this without `.needsPostgres` fails, never passes.
    public static func postgresURL() throws -> String {
        guard let url = value(of: postgresVariable) else { throw TestServerMissing(variable: postgresVariable) }
        return url
    }

    /// The moto server's base URL, e.g. `http://127.0.0.1:PORT`. Throws when unset or not a URL.
    public static func motoURL() throws -> URL {
        guard let text = value(of: motoVariable) else { throw TestServerMissing(variable: motoVariable) }
        guard let url = URL(string: text), url.scheme == "http" || url.scheme == "https", url.host != nil else {
            throw TestServerMissing(variable: motoVariable, value: text)
        }
        return url
    }

    static func value(of variable: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty else { return nil }
        return value
    }
}

/// A server's variable is unset (or not a URL) in a test that needs it.
public struct TestServerMissing: Error, CustomStringConvertible {
    public var variable: String
    public var value: String?

    public var description: String {
        if let value {
            return "\(variable) is '\(value)', not an http(s) URL with a host; scripts/test sets it"
        }
        return "\(variable) is unset: run the tests with scripts/test, which starts the server and sets it"
    }
}

extension Trait where Self == ConditionTrait {
    /// Runs the test only when `SPOTWISE_TEST_POSTGRES_URL` is set; otherwise it is reported as skipped.
    public static var needsPostgres: Self {
        .enabled(
            if: TestServers.hasPostgres,
            "needs PostgreSQL: SPOTWISE_TEST_POSTGRES_URL is unset (scripts/test starts one and sets it)")
    }

    /// Runs the test only when `SPOTWISE_TEST_MOTO_URL` is set; otherwise it is reported as skipped.
    public static var needsMoto: Self {
        .enabled(
            if: TestServers.hasMoto,
            "needs the moto server: SPOTWISE_TEST_MOTO_URL is unset (scripts/test starts one and sets it)")
    }
}
