import ArgumentParser
import Foundation
import Registry
import Reports
import SpotwiseCore

/// `spotwise models`: the registry's models, versions and aliases.
struct ModelsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models", abstract: "Registered models: list, show, promote an alias, roll it back.",
        subcommands: [List.self, Show.self, Promote.self, Rollback.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every model with its newest version and aliases.")
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var source: SourceOptions

        func run() async throws {
            try await reportingRegistryFailures {
                let models = try await source.using { opened -> [ModelSummary] in
                    switch opened {
                    case .local(let store): try await ModelRegistry(store: store).list()
                    case .remote(let client): try await client.models()
                    }
                }
                if json { return try printJSON(models) }
                guard !models.isEmpty else { return print("no models registered yet") }
                var rows = [["model", "versions", "latest", "auc/metrics", "aliases", "rejected", "from job"]]
                for model in models {
                    let latest = model.latest
                    rows.append([
                        model.model, "\(model.versions)", latest.map { "v\($0.version)" } ?? "-",
                        latest.map { ModelsCommand.metricsText($0.metrics) } ?? "-",
                        model.aliases.sorted { $0.key < $1.key }.map { "\($0.key)=v\($0.value)" }.joined(
                            separator: " "),
                        "\(model.rejected)", latest?.job ?? "-",
                    ])
                }
                print(TextTable.render(rows))
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One version (NAME, NAME:VERSION or NAME@ALIAS) with its lineage; the artifact is verified.")
        @Argument(help: "NAME (newest version), NAME:VERSION or NAME@ALIAS.") var reference: String
        @Flag(help: "Print JSON.") var json = false
        @Option(help: "Root of a file:// checkpoint store whose path is relative (default: the current directory).")
        var root: String = "."
        @OptionGroup var source: SourceOptions

        func run() async throws {
            try await reportingRegistryFailures {
                let parsed = try ModelReference(parsing: reference)
                let detail = try await source.using { opened -> ModelDetail in
                    switch opened {
                    case .local(let store): try await ModelRegistry(store: store).detail(parsed.model)
                    case .remote(let client): try await client.model(parsed.model)
                    }
                }
                let version = try detail.select(parsed.selector)
                let verification = await ArtifactCheck.verify(version.artifact, root: URL(fileURLWithPath: root))
                if json {
                    struct Shown: Encodable {
                        var version: ModelVersion
                        var aliases: [String]
                        var artifactVerified: Bool
                        var artifactCheck: String
                        enum CodingKeys: String, CodingKey {
                            case version, aliases
                            case artifactVerified = "artifact_verified"
                            case artifactCheck = "artifact_check"
                        }
                    }
                    return try printJSON(
                        Shown(
                            version: version,
                            aliases: detail.aliases.filter { $0.value == version.version }.map(\.key).sorted(),
                            artifactVerified: verification.verified, artifactCheck: verification.text))
                }
                let aliases = detail.aliases.filter { $0.value == version.version }.map(\.key).sorted()
                print(
                    "\(version.model) version \(version.version)\(aliases.isEmpty ? "" : " (\(aliases.joined(separator: ", ")))")"
                )
                print("  created     \(SavingsReport.timestamp(version.createdAt))")
                print("  metrics     \(ModelsCommand.metricsText(version.metrics))")
                let hyperparameters = version.hyperparameters.sorted { $0.key < $1.key }.map {
                    "\($0.key)=\(RunsCommand.Compare.text($0.value))"
                }
                print("  hyperparams \(hyperparameters.joined(separator: " "))")
                let lineage = version.lineage
                print(
                    "  lineage     job \(lineage.job) (\(lineage.jobName)), \(lineage.attempts) attempt(s), \(lineage.interruptions) interruption(s), cost $\(lineage.costUSD)"
                )
                if let step = lineage.checkpointStep { print("              last checkpoint step \(step)") }
                print(
                    "  artifact    \(version.artifact.storage)/\(version.artifact.location) (\(version.artifact.bytes) bytes)"
                )
                print("              manifest sha256 \(version.artifact.manifestDigest)")
                print("              \(verification.text)")
                let moves = detail.aliasHistory.filter { $0.to == version.version || $0.from == version.version }
                for move in moves {
                    print(
                        "  alias       \(SavingsReport.timestamp(move.at)) \(move.alias): \(move.from.map { "v\($0)" } ?? "(new)") -> \(move.pointsAt.map { "v\($0)" } ?? "(none)") (\(move.kind.rawValue))"
                    )
                }
                if !verification.verified && verification.reachable { throw ExitCode(1) }
            }
        }
    }

    struct Promote: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Point an alias (staging, production, ...) at a version.")
        @Argument(help: "The model name.") var model: String
        @Argument(help: "The version number.") var version: Int
        @Option(help: "The alias to move.") var alias: String
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var source: SourceOptions

        func run() async throws {
            try await reportingRegistryFailures {
                let (move, aliases) = try await source.using { opened -> (AliasMove?, [String: Int]) in
                    switch opened {
                    case .local(let store):
                        let registry = ModelRegistry(store: store)
                        let move = try await registry.promote(model: model, version: version, alias: alias, now: Date())
                        return (move, try await registry.aliases(of: model))
                    case .remote(let client):
                        let reply = try await client.promote(model: model, version: version, alias: alias)
                        return (reply.move, reply.aliases)
                    }
                }
                try ModelsCommand.printMove(move, aliases: aliases, model: model, alias: alias, json: json)
            }
        }
    }

    struct Rollback: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move an alias back to the version it pointed to before its current one.")
        @Argument(help: "The model name.") var model: String
        @Option(help: "The alias to move back.") var alias: String
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var source: SourceOptions

        func run() async throws {
            try await reportingRegistryFailures {
                let (move, aliases) = try await source.using { opened -> (AliasMove?, [String: Int]) in
                    switch opened {
                    case .local(let store):
                        let registry = ModelRegistry(store: store)
                        let move = try await registry.rollback(model: model, alias: alias, now: Date())
                        return (move, try await registry.aliases(of: model))
                    case .remote(let client):
                        let reply = try await client.rollback(model: model, alias: alias)
                        return (reply.move, reply.aliases)
                    }
                }
                try ModelsCommand.printMove(move, aliases: aliases, model: model, alias: alias, json: json)
            }
        }
    }

    static func printMove(_ move: AliasMove?, aliases: [String: Int], model: String, alias: String, json: Bool) throws {
        if json {
            struct Moved: Encodable {
                var move: AliasMove?
                var aliases: [String: Int]
            }
            return try printJSON(Moved(move: move, aliases: aliases))
        }
        guard let move else { return print("\(model)@\(alias) already points at v\(aliases[alias] ?? 0)") }
        print("\(model)@\(alias): \(move.from.map { "v\($0)" } ?? "(new)") -> v\(move.to)")
    }

    static func metricsText(_ metrics: [String: Double]) -> String {
        metrics.sorted { $0.key < $1.key }.map { "\($0.key)=\(String(format: "%.4f", $0.value))" }.joined(
            separator: " ")
    }
}

extension ModelDetail {
    /// The version a selector names, from this detail.
    func select(_ selector: ModelReference.Selector) throws -> ModelVersion {
        guard let newest = versions.last else {
            throw RegistryError.notFound("model \(model) has no versions (\(decisions.count) candidate(s) rejected)")
        }
        switch selector {
        case .latest: return newest
        case .version(let number):
            guard let found = versions.first(where: { $0.version == number }) else {
                throw RegistryError.notFound("model \(model) has no version \(number) (versions 1-\(newest.version))")
            }
            return found
        case .alias(let alias):
            guard let number = aliases[alias], let found = versions.first(where: { $0.version == number }) else {
                throw RegistryError.notFound("model \(model) has no alias \(alias)")
            }
            return found
        }
    }
}
