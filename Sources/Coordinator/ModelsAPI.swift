import Foundation
import Hummingbird
import Registry
import SpotwiseCore
import StateStore

/// `/v1/models`: the registry's models, versions, aliases and gate decisions. Reading needs a user
/// token (read-only is enough); moving an alias needs the admin token.
public struct ModelsAPI: Sendable {
    let store: any StateStore
    let clock: any CoordinatorClock

    public static let routes = [
        "GET /v1/models", "GET /v1/models/{name}", "POST /v1/models/{name}/aliases/{alias}",
        "POST /v1/models/{name}/aliases/{alias}/rollback",
    ]

    func register(on router: Router<CoordinatorContext>) {
        router.get("v1/models", use: list)
        router.get("v1/models/:name", use: detail)
        router.post("v1/models/:name/aliases/:alias", use: promote)
        router.post("v1/models/:name/aliases/:alias/rollback", use: rollback)
    }

    var registry: ModelRegistry { ModelRegistry(store: store) }

    /// Body of POST /v1/models/{name}/aliases/{alias}.
    public struct Promotion: Codable, Sendable {
        public var version: Int

        public init(version: Int) { self.version = version }
    }

    /// What an alias move answers: the move (nil when the alias already pointed there) and the
    /// aliases after it.
    public struct AliasMoved: Codable, Sendable {
        public var move: AliasMove?
        public var aliases: [String: Int]

        public init(move: AliasMove?, aliases: [String: Int]) {
            self.move = move
            self.aliases = aliases
        }
    }

    @Sendable func list(_ request: Request, context: CoordinatorContext) async throws -> Response {
        try Self.requireReader(context)
        return try JobsAPI.json(try await registry.list())
    }

    @Sendable func detail(_ request: Request, context: CoordinatorContext) async throws -> Response {
        try Self.requireReader(context)
        return try await Self.mapping {
            try JobsAPI.json(try await registry.detail(context.parameters.get("name") ?? ""))
        }
    }

    @Sendable func promote(_ request: Request, context: CoordinatorContext) async throws -> Response {
        try context.requireAdmin("move model aliases")
        let body = try await request.body(upTo: 4_096, context: context)
        try WorkersAPI.refuseDeepNesting(body)
        let promotion: Promotion
        do {
            promotion = try JSONDecoder().decode(Promotion.self, from: Data(buffer: body))
        } catch {
            throw APIError.badRequest(
                "invalid_promotion", "the body is {\"version\": N} with N a version number from 1")
        }
        let model = context.parameters.get("name") ?? ""
        return try await Self.mapping {
            let move = try await registry.promote(
                model: model, version: promotion.version, alias: context.parameters.get("alias") ?? "", now: clock.now)
            return try JobsAPI.json(AliasMoved(move: move, aliases: try await registry.aliases(of: model)))
        }
    }

    @Sendable func rollback(_ request: Request, context: CoordinatorContext) async throws -> Response {
        try context.requireAdmin("move model aliases")
        let model = context.parameters.get("name") ?? ""
        return try await Self.mapping {
            let move = try await registry.rollback(
                model: model, alias: context.parameters.get("alias") ?? "", now: clock.now)
            return try JobsAPI.json(AliasMoved(move: move, aliases: try await registry.aliases(of: model)))
        }
    }

    static func requireReader(_ context: CoordinatorContext) throws {
        try context.requireReader("the model registry")
    }

    /// Registry and store errors as HTTP errors that say what to do (the MLflow routes too: their
    /// error shape takes the status, not the code).
    static func mapping<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as RegistryError {
            switch error {
            case .invalid(let text): throw APIError.badRequest("invalid_reference", text)
            case .notFound(let text): throw APIError.notFound(text)
            case .conflict(let text): throw APIError.conflict("alias_conflict", text)
            }
        } catch let error as StateStoreError {
            switch error {
            case .aliasMoved: throw APIError.conflict("alias_moved", "\(error); read it again and retry")
            case .noSuchModelVersion: throw APIError.notFound("\(error)")
            default: throw error
            }
        }
    }
}
