import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
import Testing

@testable import Coordinator

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 14, item 6: slow connections (half a header, half a body) stayed open for as long as
/// their clients liked, and enough of them made `/health` unreachable.
@Suite struct SlowConnectionTests {
    // MARK: The body deadline, on NIO's embedded loop and its manual clock

    func embedded(timeout: TimeAmount = .seconds(60)) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(RequestReadDeadline(timeout: timeout))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    static let head = HTTPRequestPart.head(HTTPRequest(method: .post, scheme: nil, authority: "x", path: "/v1/jobs"))

    @Test func aBodyThatHasNotEndedByTheDeadlineClosesTheConnection() throws {
        let channel = try embedded()
        try channel.writeInbound(Self.head)
        try channel.writeInbound(HTTPRequestPart.body(ByteBuffer(string: "name: a")))
        channel.embeddedEventLoop.advanceTime(by: .seconds(59))
        #expect(channel.isActive)
        // Trickling more bytes does not move the deadline.
        try channel.writeInbound(HTTPRequestPart.body(ByteBuffer(string: "b")))
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(!channel.isActive)
    }

    @Test func aRequestThatEndsInTimeKeepsTheConnectionAcrossManyDeadlines() throws {
        let channel = try embedded()
        for _ in 0..<3 {
            try channel.writeInbound(Self.head)
            channel.embeddedEventLoop.advanceTime(by: .seconds(30))
            try channel.writeInbound(HTTPRequestPart.end(nil))
            channel.embeddedEventLoop.advanceTime(by: .seconds(120))
            #expect(channel.isActive)
        }
        // Every part still reaches the server's handlers.
        var parts = 0
        while try channel.readInbound(as: HTTPRequestPart.self) != nil { parts += 1 }
        #expect(parts == 6)
        _ = try channel.finish()
    }

    // MARK: A live coordinator server on loopback

    /// Opens a TCP connection to 127.0.0.1:port, sends `bytes`, and waits (at most `limit`) for
    /// the server to close it. True when it closed.
    static func serverCloses(port: Int, after bytes: String, limit: Int = 20) -> Bool {
        exchange(port: port, bytes, limit: limit, untilClosed: true) == "(closed)"
    }

    /// Sends `bytes` and reads until the server closes (the reply), or `limit` seconds pass.
    static func exchange(port: Int, _ bytes: String, limit: Int = 20, untilClosed: Bool = false) -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return "(no socket)" }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { return "(not connected)" }
        var timeout = timeval(tv_sec: limit, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = bytes.withCString { send(fd, $0, strlen($0), 0) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        var reply: [UInt8] = []
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            // Closed by the server; or the limit passed with the connection still open.
            if count == 0 { return untilClosed ? "(closed)" : String(decoding: reply, as: UTF8.self) }
            if count < 0 { return "(still open after \(limit) s)" }
            reply += buffer[0..<count]
        }
    }

    func withServer(_ limits: ConnectionLimits, _ body: @Sendable (Int) async throws -> Void) async throws {
        let router = Router()
        router.get("health") { _, _ in "ok\n" }
        router.post("echo") { request, _ in
            String(buffer: try await request.body.collect(upTo: 1 << 20))
        }
        let ports = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router, server: limits.server,
            configuration: limits.configuration(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { ports.continuation.yield($0.localAddress?.port ?? 0) })
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService(gracefulShutdownSignals: []) }
            var iterator = ports.stream.makeAsyncIterator()
            guard let port = await iterator.next() else { throw CancellationError() }
            try await body(port)
            group.cancelAll()
        }
    }

    @Test func halfAHeaderIsClosedAfterTheIdleTimeout() async throws {
        try await withServer(ConnectionLimits(idleTimeout: .milliseconds(300))) { port in
            #expect(Self.serverCloses(port: port, after: "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: "))
        }
    }

    @Test func halfABodyIsClosedAfterTheReadTimeout() async throws {
        let limits = ConnectionLimits(idleTimeout: .seconds(60), requestReadTimeout: .milliseconds(300))
        try await withServer(limits) { port in
            #expect(
                Self.serverCloses(
                    port: port, after: "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part"))
        }
    }

    @Test func pastTheConnectionCapHealthStillAnswersOnceSlowClientsAreDropped() async throws {
        let limits = ConnectionLimits(idleTimeout: .milliseconds(300), maxConnections: 4)
        try await withServer(limits) { port in
            // Twice the cap in half-headers, each dropped by the idle timeout.
            let slow = (0..<8).map { _ in
                Task.detached { Self.serverCloses(port: port, after: "GET /health HTTP/1.1\r\nHost: x\r\n") }
            }
            for task in slow { #expect(await task.value) }
            let reply = Self.exchange(port: port, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(reply.hasPrefix("HTTP/1.1 200"))
            #expect(reply.hasSuffix("ok\n"))
        }
    }
}
