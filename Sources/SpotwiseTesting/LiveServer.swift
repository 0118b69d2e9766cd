import Foundation
import Hummingbird
import Logging

/// Runs a Hummingbird application on a free loopback port for the length of `body`.
public func withLiveServer<Context: RequestContext, T: Sendable>(
    _ router: Router<Context>, _ body: @Sendable (String) async throws -> T
) async throws -> T where Context.Source == ApplicationRequestContextSource {
    var logger = Logger(label: "test.server")
    logger.logLevel = .critical
    let ports = AsyncStream.makeStream(of: Int.self)
    let app = Application(
        router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { ports.continuation.yield($0.localAddress?.port ?? 0) }, logger: logger)
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            try await app.runService(gracefulShutdownSignals: [])
            return nil
        }
        var iterator = ports.stream.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CancellationError() }
        let result = try await body("http://127.0.0.1:\(port)")
        group.cancelAll()
        return result
    }
}
