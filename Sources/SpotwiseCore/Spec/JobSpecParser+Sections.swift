import Foundation
import Yams

/// One decoding function per section of the spec. Each reports its own problems and returns nil
/// (or a default) so the remaining sections are still checked.
extension JobSpecParser {
    func decodeSpec(_ root: Node, reader: inout SpecReader) -> JobSpec? {
        let path = FieldPath.root
        guard
            let fields = reader.mapping(
                root, at: path, allowed: Self.topLevelFields, expected: "a mapping of job spec fields")
        else { return nil }

        var name: String?
        if let node = fields["name"] {
            if let text = reader.text(node, at: path.appending("name"), allowed: SpecValueParsing.nameGrammar) {
                if SpecValueParsing.isValidName(text) {
                    name = text
                } else {
                    reader.report(
                        node, path.appending("name"), "invalid name", found: "'\(text)'",
                        allowed: SpecValueParsing.nameGrammar)
                }
            }
        } else {
            reader.report(root, path.appending("name"), "missing required field", allowed: SpecValueParsing.nameGrammar)
        }

        var run: String?
        if let node = fields["run"] {
            if let text = reader.text(node, at: path.appending("run"), allowed: "a command line") {
                if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                    reader.report(
                        node, path.appending("run"), "empty command", found: "\"\"", allowed: "a command line")
                } else {
                    run = text
                }
            }
        } else {
            reader.report(root, path.appending("run"), "missing required field", allowed: "a command line")
        }

        var spec = JobSpec(name: name ?? "", run: run ?? "")
        if let node = fields["workdir"],
            let text = reader.text(node, at: path.appending("workdir"), allowed: SpecValueParsing.workdirGrammar)
        {
            if let problem = SpecValueParsing.workdirProblem(text) {
                reader.report(
                    node, path.appending("workdir"), "unusable workdir: \(problem)", found: "'\(text)'",
                    allowed: SpecValueParsing.workdirGrammar)
            } else {
                spec.workdir = text
            }
        }
        if let node = fields["env"] { spec.env = decodeEnv(node, at: path.appending("env"), reader: &reader) }
        if let node = fields["resources"],
            let resources = decodeResources(node, at: path.appending("resources"), reader: &reader)
        {
            spec.resources = resources
        }
        if let node = fields["providers"],
            let providers = decodeProviders(node, at: path.appending("providers"), reader: &reader)
        {
            spec.providers = providers
        }
        if let node = fields["market"],
            let market = reader.choice(node, at: path.appending("market"), as: MarketPreference.self)
        {
            spec.market = market
        }
        if let node = fields["deadline"] {
            spec.deadline = decodeDeadline(node, at: path.appending("deadline"), reader: &reader)
        }
        if let node = fields["checkpoint"],
            let checkpoint = decodeCheckpoint(node, at: path.appending("checkpoint"), reader: &reader)
        {
            spec.checkpoint = checkpoint
        }
        if let node = fields["retries"],
            let retries = decodeRetries(node, at: path.appending("retries"), reader: &reader)
        {
            spec.retries = retries
        }
        if let node = fields["hyperparameters"] {
            spec.hyperparameters = decodeHyperparameters(node, at: path.appending("hyperparameters"), reader: &reader)
        }
        if let node = fields["register"] {
            spec.register = decodeRegistration(node, at: path.appending("register"), reader: &reader)
        }
        if let node = fields["tags"] { spec.tags = decodeTags(node, at: path.appending("tags"), reader: &reader) }
        if let node = fields["max_cost"] {
            spec.maxCost = decodeMaxCost(node, at: path.appending("max_cost"), reader: &reader)
        }
        return name != nil && run != nil ? spec : nil
    }

    func decodeEnv(_ node: Node, at path: FieldPath, reader: inout SpecReader) -> [String: String] {
        guard
            let entries = reader.freeMapping(
                node, at: path, expected: "a mapping of variable names to values",
                keyRule: SpecValueParsing.envKeyGrammar, keyIsValid: SpecValueParsing.isValidEnvKey)
        else { return [:] }
        var env: [String: String] = [:]
        for entry in entries {
            if let value = reader.text(
                entry.value, at: path.appending(entry.key), allowed: "a text, number or boolean value",
                acceptNumbers: true)
            {
                env[entry.key] = value
            }
        }
        return env
    }

    func decodeResources(_ node: Node, at path: FieldPath, reader: inout SpecReader) -> Resources? {
        guard
            let fields = reader.mapping(
                node, at: path, allowed: ["accelerator", "nodes", "cpus", "memory"],
                expected: "a mapping with accelerator, nodes, cpus, memory")
        else { return nil }
        var resources = Resources()
        if let node = fields["accelerator"] {
            let allowed = "MODEL or MODEL:COUNT like A100:8 (COUNT 1-\(Accelerator.maximumPerNode))"
            if let text = reader.text(node, at: path.appending("accelerator"), allowed: allowed) {
                if let accelerator = Accelerator(parsing: text) {
                    resources.accelerator = accelerator
                } else if let count = text.split(separator: ":").last.flatMap({ Int($0) }), text.contains(":"),
                    Accelerator(parsing: text.split(separator: ":")[0] + ":1") != nil
                {
                    reader.report(
                        node, path.appending("accelerator"), "accelerator count out of range",
                        found: "\(count) per node",
                        allowed: allowed)
                } else {
                    reader.report(
                        node, path.appending("accelerator"), "unparsable accelerator", found: "'\(text)'",
                        allowed: allowed)
                }
            }
        }
        if let node = fields["nodes"] {
            resources.nodes = decodeNodes(node, at: path.appending("nodes"), reader: &reader) ?? resources.nodes
        }
        if let node = fields["cpus"] {
            resources.cpus = reader.number(
                node, at: path.appending("cpus"), allowed: "a number of CPUs greater than 0", check: { $0 > 0 })
        }
        if let node = fields["memory"] {
            let text = reader.text(
                node, at: path.appending("memory"), allowed: SpecValueParsing.memoryGrammar, acceptNumbers: true)
            if let text {
                if let bytes = SpecValueParsing.memoryBytes(text) {
                    resources.memoryBytes = bytes
                } else {
                    reader.report(
                        node, path.appending("memory"), "unparsable size", found: "'\(text)'",
                        allowed: SpecValueParsing.memoryGrammar)
                }
            }
        }
        return resources
    }

    func decodeNodes(_ node: Node, at path: FieldPath, reader: inout SpecReader) -> NodeCount? {
        let allowed = "a whole number from 1 to \(NodeCount.maximum), or {min: N, max: M} with 1 <= N <= M"
        let range = 1...NodeCount.maximum
        if case .mapping = node {
            guard
                let fields = reader.mapping(node, at: path, allowed: ["min", "max"], expected: allowed)
            else { return nil }
            guard let minNode = fields["min"], let maxNode = fields["max"] else {
                reader.report(
                    node, path.appending(fields["min"] == nil ? "min" : "max"), "missing required field",
                    allowed: allowed)
                return nil
            }
            let minimum = reader.integer(minNode, at: path.appending("min"), in: range, allowed: allowed)
            let maximum = reader.integer(maxNode, at: path.appending("max"), in: range, allowed: allowed)
            guard let minimum, let maximum else { return nil }
            guard minimum <= maximum else {
                reader.report(
                    node, path, "min is greater than max", found: "min \(minimum), max \(maximum)", allowed: allowed)
                return nil
            }
            return minimum == maximum ? .fixed(minimum) : .elastic(min: minimum, max: maximum)
        }
        return reader.integer(node, at: path, in: range, allowed: allowed).map(NodeCount.fixed)
    }

    func decodeProviders(_ node: Node, at path: FieldPath, reader: inout SpecReader) -> [ProviderPreference]? {
        let allowed = "a list of {name, regions, instance_type}, most preferred first"
        guard let items = reader.list(node, at: path, allowed: allowed) else { return nil }
        guard !items.isEmpty else {
            reader.report(node, path, "empty list", found: "[]", allowed: "at least one provider")
            return nil
        }
        var providers: [ProviderPreference] = []
        for (index, item) in items.enumerated() {
            let itemPath = path.appending(index: index)
            guard
                let fields = reader.mapping(
                    item, at: itemPath, allowed: ["name", "regions", "instance_type"],
                    expected: "a mapping {name, regions, instance_type}")
            else { continue }
            guard let nameNode = fields["name"] else {
                let names = ProviderName.allCases.map(\.rawValue).joined(separator: ", ")
                reader.report(item, itemPath.appending("name"), "missing required field", allowed: names)
                continue
            }
            guard let name = reader.choice(nameNode, at: itemPath.appending("name"), as: ProviderName.self) else {
                continue
            }
            var provider = ProviderPreference(name: name)
            if let regionsNode = fields["regions"] {
                let regionsPath = itemPath.appending("regions")
                if let regions = reader.list(regionsNode, at: regionsPath, allowed: "a list of region names") {
                    for (regionIndex, regionNode) in regions.enumerated() {
                        let regionPath = regionsPath.appending(index: regionIndex)
                        guard
                            let region = reader.text(
                                regionNode, at: regionPath, allowed: SpecValueParsing.regionGrammar)
                        else { continue }
                        if SpecValueParsing.isValidRegion(region) {
                            provider.regions.append(region)
                        } else {
                            reader.report(
                                regionNode, regionPath, "invalid region", found: "'\(region)'",
                                allowed: SpecValueParsing.regionGrammar)
                        }
                    }
                }
            }
            if let typeNode = fields["instance_type"] {
                provider.instanceType = reader.text(
                    typeNode, at: itemPath.appending("instance_type"), allowed: "an instance type like ml.p3.2xlarge")
            }
            providers.append(provider)
        }
        return providers
    }

    func decodeDeadline(_ node: Node, at path: FieldPath, reader: inout SpecReader) -> Deadline? {
        guard let text = reader.text(node, at: path, allowed: SpecValueParsing.deadlineGrammar, acceptNumbers: true)
        else { return nil }
        if let seconds = SpecValueParsing.durationSeconds(text) {
            guard seconds > 0 else {
                reader.report(
                    node, path, "deadline must be after submission", found: "'\(text)'",
                    allowed: "a duration greater than 0")
                return nil
            }
            guard seconds <= JobSpec.maxDeadlineSeconds else {
                reader.report(
                    node, path, "deadline too far away", found: "'\(text)'",
                    allowed: "at most \(JobSpec.maxDeadlineDays)d after submission")
                return nil
            }
            return .afterSubmission(seconds: seconds)
        }
        if let date = SpecValueParsing.rfc3339(text) {
            let formatter = ISO8601DateFormatter()
            guard date > now else {
                reader.report(
                    node, path, "deadline is in the past", found: "'\(text)'",
                    allowed: "a time after now (\(formatter.string(from: now)))")
                return nil
            }
            let latest = now.addingTimeInterval(JobSpec.maxDeadlineSeconds)
            guard date <= latest else {
                reader.report(
                    node, path, "deadline too far away", found: "'\(text)'",
                    allowed:
                        "a time at most \(JobSpec.maxDeadlineDays) days after now (\(formatter.string(from: latest)))")
                return nil
            }
            return .at(date)
        }
        reader.report(node, path, "unparsable deadline", found: "'\(text)'", allowed: SpecValueParsing.deadlineGrammar)
        return nil
    }

    func decodeCheckpoint(_ node: Node, at path: FieldPath, reader: inout SpecReader) -> CheckpointPolicy? {
        guard
            let fields = reader.mapping(
                node, at: path, allowed: ["every_steps", "keep_last", "storage"],
                expected: "a mapping with every_steps, keep_last, storage")
        else { return nil }
        var policy = CheckpointPolicy()
        if let node = fields["every_steps"],
            let value = reader.integer(
                node, at: path.appending("every_steps"), in: 1...Int(Int32.max),
                allowed: "a whole number of steps, at least 1")
        {
            policy.everySteps = value
        }
        if let node = fields["keep_last"],
            let value = reader.integer(
                node, at: path.appending("keep_last"), in: 1...1_000, allowed: "a whole number from 1 to 1000")
        {
            policy.keepLast = value
        }
        if let node = fields["storage"],
            let text = reader.text(node, at: path.appending("storage"), allowed: SpecValueParsing.storageGrammar)
        {
            switch SpecValueParsing.checkpointStorage(text) {
            case .success(let storage): policy.storage = storage
            case .failure(let refusal):
                reader.report(
                    node, path.appending("storage"), "unusable storage URL: \(refusal.problem)", found: "'\(text)'",
                    allowed: SpecValueParsing.storageGrammar)
            }
        }
        return policy
    }

    func decodeRetries(_ node: Node, at path: FieldPath, reader: inout SpecReader) -> RetryPolicy? {
        guard
            let fields = reader.mapping(
                node, at: path, allowed: ["max_preemptions", "max_failures", "retry_on_exit_codes"],
                expected: "a mapping with max_preemptions, max_failures, retry_on_exit_codes")
        else { return nil }
        var policy = RetryPolicy()
        if let node = fields["max_preemptions"] {
            let allowed = "a whole number of at least 0, or unlimited"
            if case .scalar(let scalar) = node, scalar.string == "unlimited" {
                policy.maxPreemptions = nil
            } else if let value = reader.integer(
                node, at: path.appending("max_preemptions"), in: 0...Int(Int32.max), allowed: allowed)
            {
                policy.maxPreemptions = value
            }
        }
        if let node = fields["max_failures"],
            let value = reader.integer(
                node, at: path.appending("max_failures"), in: 0...1_000, allowed: "a whole number from 0 to 1000")
        {
            policy.maxFailures = value
        }
        if let node = fields["retry_on_exit_codes"] {
            let codesPath = path.appending("retry_on_exit_codes")
            let allowed = "exit codes from 1 to 255"
            if let items = reader.list(node, at: codesPath, allowed: "a list of \(allowed)") {
                for (index, item) in items.enumerated() {
                    if let code = reader.integer(
                        item, at: codesPath.appending(index: index), in: 1...255, allowed: allowed)
                    {
                        policy.retryOnExitCodes.insert(Int32(code))
                    }
                }
            }
        }
        return policy
    }

    func decodeHyperparameters(_ node: Node, at path: FieldPath, reader: inout SpecReader) -> [String: JSONValue] {
        guard
            let entries = reader.freeMapping(
                node, at: path, expected: "a mapping of hyperparameter names to values",
                keyRule: "any non-empty text", keyIsValid: { !$0.isEmpty })
        else { return [:] }
        var values: [String: JSONValue] = [:]
        for entry in entries {
            values[entry.key] = Self.jsonValue(entry.value)
        }
        return values
    }

    static func jsonValue(_ node: Node) -> JSONValue {
        switch node {
        case .scalar(let scalar):
            guard scalar.style == .plain else { return .string(scalar.string) }
            if node.null != nil { return .null }
            if let value = node.bool { return .bool(value) }
            if let value = node.int { return .int(value) }
            if let value = node.float, value.isFinite { return .double(value) }
            return .string(scalar.string)
        case .sequence(let sequence):
            return .array(sequence.map(jsonValue))
        case .mapping(let mapping):
            var object: [String: JSONValue] = [:]
            for (key, value) in mapping {
                object[key.string ?? SpecReader.describe(key)] = jsonValue(value)
            }
            return .object(object)
        case .alias:
            return .null
        }
    }

    func decodeRegistration(_ node: Node, at path: FieldPath, reader: inout SpecReader) -> Registration? {
        guard
            let fields = reader.mapping(
                node, at: path, allowed: ["model", "gate"], expected: "a mapping with model and gate")
        else { return nil }
        var model: String?
        if let modelNode = fields["model"] {
            if let text = reader.text(
                modelNode, at: path.appending("model"), allowed: SpecValueParsing.modelNameGrammar)
            {
                if SpecValueParsing.isValidModelName(text) {
                    model = text
                } else {
                    reader.report(
                        modelNode, path.appending("model"), "invalid model name", found: "'\(text)'",
                        allowed: SpecValueParsing.modelNameGrammar)
                }
            }
        } else {
            reader.report(
                node, path.appending("model"), "missing required field", allowed: SpecValueParsing.modelNameGrammar)
        }
        // The gate is checked even when the model name is wrong, so that all problems show at once.
        let gate = fields["gate"].map { decodeGate($0, at: path.appending("gate"), reader: &reader) }
        guard let model else { return nil }
        if let gate {
            guard let gate else { return nil }
            return Registration(model: model, gate: gate)
        }
        return Registration(model: model)
    }

    func decodeGate(_ node: Node, at path: FieldPath, reader: inout SpecReader) -> QualityGate? {
        let shapes = "{metric: NAME, min: X}, {metric: NAME, max: X} or {metric: NAME, beats: ALIAS, by: MARGIN}"
        guard
            let fields = reader.mapping(
                node, at: path, allowed: ["metric", "min", "max", "beats", "by"], expected: shapes)
        else { return nil }
        var metric: String?
        if let metricNode = fields["metric"] {
            metric = reader.text(metricNode, at: path.appending("metric"), allowed: "a metric name like auc")
        } else {
            reader.report(node, path.appending("metric"), "gate without a metric", allowed: shapes)
        }
        let rules = ["min", "max", "beats"].filter { fields[$0] != nil }
        guard rules.count == 1 else {
            reader.report(
                node, path, rules.isEmpty ? "gate without a rule" : "gate with more than one rule",
                found: rules.isEmpty ? "no min, max or beats" : rules.joined(separator: " and "), allowed: shapes)
            return nil
        }
        if fields["by"] != nil && rules[0] != "beats" {
            reader.report(fields["by"], path.appending("by"), "'by' only goes with 'beats'", allowed: shapes)
            return nil
        }
        let rule: QualityGate.Rule?
        switch rules[0] {
        case "min":
            rule = reader.number(fields["min"]!, at: path.appending("min"), allowed: "a number", check: { _ in true })
                .map(QualityGate.Rule.atLeast)
        case "max":
            rule = reader.number(fields["max"]!, at: path.appending("max"), allowed: "a number", check: { _ in true })
                .map(QualityGate.Rule.atMost)
        default:
            let alias = reader.text(
                fields["beats"]!, at: path.appending("beats"), allowed: "an alias name like production")
            var margin = 0.0
            if let byNode = fields["by"] {
                margin =
                    reader.number(
                        byNode, at: path.appending("by"), allowed: "a margin of at least 0", check: { $0 >= 0 })
                    ?? -1
            }
            rule = alias.flatMap { margin >= 0 ? QualityGate.Rule.beatsAlias($0, by: margin) : nil }
        }
        guard let metric, let rule else { return nil }
        return QualityGate(metric: metric, rule: rule)
    }

    func decodeTags(_ node: Node, at path: FieldPath, reader: inout SpecReader) -> [String: String] {
        guard
            let entries = reader.freeMapping(
                node, at: path, expected: "a mapping of tag names (team, project, ...) to values",
                keyRule: SpecValueParsing.tagKeyGrammar, keyIsValid: SpecValueParsing.isValidTagKey)
        else { return [:] }
        var tags: [String: String] = [:]
        for entry in entries {
            if let value = reader.text(
                entry.value, at: path.appending(entry.key), allowed: "a text value", acceptNumbers: true)
            {
                tags[entry.key] = value
            }
        }
        return tags
    }

    func decodeMaxCost(_ node: Node, at path: FieldPath, reader: inout SpecReader) -> Money? {
        let allowed = "an amount of US dollars greater than 0, at most 6 decimals, like 250 or 99.50"
        guard SpecReader.isPlain(node), case .scalar(let scalar) = node, node.int != nil || node.float != nil else {
            reader.report(node, path, "wrong type", found: SpecReader.describe(node), allowed: allowed)
            return nil
        }
        guard let money = Money(decimalDollars: scalar.string), money > .zero else {
            reader.report(node, path, "out of range", found: scalar.string, allowed: allowed)
            return nil
        }
        return money
    }
}
