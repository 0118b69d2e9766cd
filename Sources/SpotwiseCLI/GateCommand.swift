import ArgumentParser
import Foundation
import Registry
import SpotwiseCore

/// `spotwise gate`: the registry's quality gate as a CI step. Exit 0 passes, 1 fails, 2 bad input.
struct GateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gate",
        abstract: "Check a metrics file against a quality gate: exit 0 pass, 1 fail, 2 bad input.",
        discussion: """
            METRICS.json is a JSON object of metric name to number, the shape of the trainer's \
            final metrics file (SPOTWISE_OUTPUT_DIR/metrics.json). Examples:
              spotwise gate --metric auc --min 0.85 output/metrics.json
              spotwise gate --metric loss --max 0.3 output/metrics.json
              spotwise gate --metric auc --beats production --by 0.005 --model digits-classifier output/metrics.json
            """)

    @Option(help: "The metric to judge.") var metric: String?
    @Option(help: "Pass when the metric is at least this.") var min: String?
    @Option(help: "Pass when the metric is at most this.") var max: String?
    @Option(help: "Pass when the metric beats the version behind this alias (needs --model).") var beats: String?
    @Option(help: "With --beats: by at least this margin (default 0: strictly better).") var by: String?
    @Option(help: "With --beats: the registered model whose alias to compare with.") var model: String?
    @Argument(help: "The metrics file.") var file: String?
    @OptionGroup var source: SourceOptions

    func run() async throws {
        let gate: QualityGate
        let metrics: [String: Double]
        do {
            gate = try parseGate()
            metrics = try readMetrics()
        } catch let error as BadInput {
            FileHandle.standardError.write(Data("error: \(error.text)\n".utf8))
            throw ExitCode(2)
        }
        var baseline: GateBaseline?
        if case .beatsAlias(let alias, _) = gate.rule, let model {
            do {
                baseline = try await source.using { opened -> GateBaseline? in
                    let detail: ModelDetail
                    switch opened {
                    case .local(let store):
                        guard !(try await store.modelVersions(model: model)).isEmpty else { return nil }
                        detail = try await ModelRegistry(store: store).detail(model)
                    case .remote(let client): detail = try await client.model(model)
                    }
                    guard let number = detail.aliases[alias],
                        let version = detail.versions.first(where: { $0.version == number })
                    else { return nil }
                    return GateBaseline(alias: alias, version: number, metrics: version.metrics)
                }
            } catch {
                FileHandle.standardError.write(
                    Data("error: cannot read model \(model) from the registry: \(error)\n".utf8))
                throw ExitCode(2)
            }
        }
        let verdict = gate.evaluate(metrics, baseline: baseline)
        print("\(verdict.passed ? "PASS" : "FAIL"): \(gate.summary): \(verdict.reason)")
        if !verdict.passed { throw ExitCode(1) }
    }

    struct BadInput: Error {
        var text: String
    }

    func parseGate() throws -> QualityGate {
        guard let metric, !metric.isEmpty else { throw BadInput(text: "--metric NAME is required (e.g. --metric auc)") }
        let rules = [min, max, beats].compactMap { $0 }
        guard rules.count == 1 else {
            throw BadInput(text: "give exactly one of --min X, --max X or --beats ALIAS (got \(rules.count))")
        }
        if by != nil && beats == nil { throw BadInput(text: "--by goes only with --beats") }
        func number(_ text: String, _ flag: String) throws -> Double {
            guard let value = Double(text), value.isFinite else {
                throw BadInput(text: "\(flag) '\(text)' is not a number")
            }
            return value
        }
        if let min { return QualityGate(metric: metric, rule: .atLeast(try number(min, "--min"))) }
        if let max { return QualityGate(metric: metric, rule: .atMost(try number(max, "--max"))) }
        guard model != nil else { throw BadInput(text: "--beats needs --model NAME (the registered model)") }
        let margin = try by.map { try number($0, "--by") } ?? 0
        guard margin >= 0 else { throw BadInput(text: "--by must be at least 0") }
        return QualityGate(metric: metric, rule: .beatsAlias(beats!, by: margin))
    }

    func readMetrics() throws -> [String: Double] {
        guard let file else { throw BadInput(text: "the metrics file is required (e.g. output/metrics.json)") }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: file))
        } catch {
            throw BadInput(text: "cannot read \(file): \(error.localizedDescription)")
        }
        guard let object = try? JSONDecoder().decode([String: JSONValue].self, from: data) else {
            throw BadInput(text: "\(file) is not a JSON object of metric name to number")
        }
        var metrics: [String: Double] = [:]
        for (key, value) in object {
            switch value {
            case .int(let number): metrics[key] = Double(number)
            case .double(let number): metrics[key] = number
            default: continue
            }
        }
        guard let value = object[metric!] else {
            throw BadInput(
                text: "\(file) has no metric \(metric!) (it has: \(object.keys.sorted().joined(separator: ", ")))")
        }
        guard metrics[metric!]?.isFinite == true else {
            throw BadInput(text: "\(file): \(metric!) is \(RunsCommand.Compare.text(value)), not a number")
        }
        return metrics
    }
}
