import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTPTypes

/// How long the coordinator waits on a client, and how many it holds at once.
///
/// Without them, 500 connections that sent half a header or half a body stayed open for as long
/// as their clients liked, and 1,100 of them (past the usual 1,024 open files) made `/health` time
/// out (issue 14). A connection that sends nothing for `idleTimeout` (mid-header, or idle between
/// requests) is closed; a request whose body has not ended `requestReadTimeout` after its head is
/// closed however slowly it trickles; past `maxConnections` the server stops accepting until one
/// closes, so the process never runs out of file descriptors.
public struct ConnectionLimits: Sendable {
    public var idleTimeout: Duration
    public var requestReadTimeout: Duration
    public var maxConnections: Int

    public init(
        idleTimeout: Duration = .seconds(30), requestReadTimeout: Duration = .seconds(60), maxConnections: Int = 4_096
    ) {
        self.idleTimeout = idleTimeout
        self.requestReadTimeout = requestReadTimeout
        self.maxConnections = maxConnections
    }

    /// The HTTP/1.1 server with both timeouts.
    public var server: HTTPServerBuilder {
        let readTimeout = TimeAmount(requestReadTimeout)
        return .http1(
            configuration: .init(
                additionalChannelHandlers: [RequestReadDeadline(timeout: readTimeout)],
                idleTimeout: TimeAmount(idleTimeout)))
    }

    /// The application configuration that caps connections.
    public func configuration(address: BindAddress, serverName: String? = "spotwise") -> ApplicationConfiguration {
        .init(
            address: address, serverName: serverName,
            availableConnectionsDelegate: MaximumAvailableConnections(maxConnections))
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

/// Closes a connection whose request body has not ended within `timeout` of its head: the body
/// side of a slow-loris (the header side, where no part is decoded yet, is the idle timeout's).
final class RequestReadDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    let timeout: TimeAmount
    private var deadline: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            deadline?.cancel()
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            deadline = context.eventLoop.scheduleTask(in: timeout) { loopBound.value.close(promise: nil) }
        case .body:
            break
        case .end:
            deadline?.cancel()
            deadline = nil
        }
        context.fireChannelRead(data)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }
}

@available(*, unavailable)
extension RequestReadDeadline: Sendable {}
