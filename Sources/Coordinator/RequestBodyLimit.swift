import Hummingbird

extension Request {
    /// The whole body, if it is at most `limit` bytes; a larger one is refused as it arrives with
    /// 413 `body_too_large` naming the route and its limit, before anything decodes it.
    /// (NIO's error carries only what was left of the limit when it tripped, not the limit.)
    func body(upTo limit: Int, context: CoordinatorContext, what: String? = nil) async throws -> ByteBuffer {
        do {
            return try await body.collect(upTo: limit)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            let route = JSONErrorMiddleware.route(of: self, context: context)
            throw APIError(
                .contentTooLarge, code: "body_too_large",
                message: "the body of \(route)\(what.map { " (\($0))" } ?? "") is over its \(limit)-byte limit")
        }
    }
}
