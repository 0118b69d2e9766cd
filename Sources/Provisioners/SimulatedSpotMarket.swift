import Foundation
import HTTPTypes
import Hummingbird
import Synchronization

/// The simulated spot market's notice board, served as EC2 instance metadata (IMDSv2) per node
/// under `/nodes/NODE`: `PUT /nodes/NODE/latest/api/token`, then
/// `GET /nodes/NODE/latest/meta-data/spot/instance-action` answers 404 until the market posts a
/// notice, then `{"action": "terminate", "time": "..."}`, exactly as EC2 does; the agent's EC2
/// watcher polls it unchanged. A request without the session token gets 401, as IMDSv2 does.
public final class SimulatedSpotMarket: Sendable {
    private struct State {
        var notices: [String: Date] = [:]
        var tokens: Set<String> = []
    }
    private let state = Mutex(State())

    public init() {}

    public func postNotice(node: String, terminationAt: Date) {
        state.withLock { $0.notices[node] = terminationAt }
    }

    public func clear(node: String) { _ = state.withLock { $0.notices.removeValue(forKey: node) } }

    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.put("nodes/:node/latest/api/token") { [self] request, _ -> Response in
            guard request.headers[HTTPField.Name("X-aws-ec2-metadata-token-ttl-seconds")!] != nil else {
                return Response(status: .badRequest)
            }
            let token = UUID().uuidString
            state.withLock { _ = $0.tokens.insert(token) }
            return Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: token)))
        }
        router.get("nodes/:node/latest/meta-data/spot/instance-action") { [self] request, context -> Response in
            let node = context.parameters.get("node") ?? ""
            let token = request.headers[HTTPField.Name("X-aws-ec2-metadata-token")!] ?? ""
            let (known, notice) = state.withLock { ($0.tokens.contains(token), $0.notices[node]) }
            guard known else { return Response(status: .unauthorized) }
            guard let notice else { return Response(status: .notFound) }
            let formatter = ISO8601DateFormatter()
            let body = #"{"action": "terminate", "time": "\#(formatter.string(from: notice))"}"#
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
        }
        router.get("nodes/:node/latest/meta-data/events/recommendations/rebalance") { [self] request, _ -> Response in
            let token = request.headers[HTTPField.Name("X-aws-ec2-metadata-token")!] ?? ""
            guard state.withLock({ $0.tokens.contains(token) }) else { return Response(status: .unauthorized) }
            return Response(status: .notFound)
        }
        return router
    }
}
