import Foundation

/// A validated training job specification, as an ML engineer writes it in `jobs/NAME.yaml`.
///
/// Every field has its default filled in; `docs/job-spec.md` documents them.
public struct JobSpec: Hashable, Sendable, Codable {
    public var name: String
    public var run: String
    public var workdir: String
    public var env: [String: String]
    public var resources: Resources
    public var providers: [ProviderPreference]
    public var market: MarketPreference
    public var deadline: Deadline?
    public var checkpoint: CheckpointPolicy
    public var retries: RetryPolicy
    public var hyperparameters: [String: JSONValue]
    public var register: Registration?
    public var tags: [String: String]
    public var maxCost: Money?

    public init(
        name: String,
        run: String,
        workdir: String = JobSpec.defaultWorkdir,
        env: [String: String] = [:],
        resources: Resources = Resources(),
        providers: [ProviderPreference] = JobSpec.defaultProviders,
        market: MarketPreference = .auto,
        deadline: Deadline? = nil,
        checkpoint: CheckpointPolicy = CheckpointPolicy(),
        retries: RetryPolicy = RetryPolicy(),
        hyperparameters: [String: JSONValue] = [:],
        register: Registration? = nil,
        tags: [String: String] = [:],
        maxCost: Money? = nil
    ) {
        self.name = name
        self.run = run
        self.workdir = workdir
        self.env = env
        self.resources = resources
        self.providers = providers
        self.market = market
        self.deadline = deadline
        self.checkpoint = checkpoint
        self.retries = retries
        self.hyperparameters = hyperparameters
        self.register = register
        self.tags = tags
        self.maxCost = maxCost
    }

    public static let defaultWorkdir = "."
    public static let defaultProviders = [ProviderPreference(name: .local)]
}

public struct Resources: Hashable, Sendable, Codable {
    public var accelerator: Accelerator?
    public var nodes: NodeCount
    public var cpus: Double?
    public var memoryBytes: Int64?

    public init(
        accelerator: Accelerator? = nil, nodes: NodeCount = .fixed(1), cpus: Double? = nil, memoryBytes: Int64? = nil
    ) {
        self.accelerator = accelerator
        self.nodes = nodes
        self.cpus = cpus
        self.memoryBytes = memoryBytes
    }
}

/// `A100:8`: eight A100s per node.
public struct Accelerator: Hashable, Sendable, Codable, CustomStringConvertible {
    public var model: String
    public var count: Int

    public init(model: String, count: Int) {
        self.model = model
        self.count = count
    }

    public static let maximumPerNode = 16

    /// Parses `MODEL` or `MODEL:COUNT`; nil when the text is not of that shape.
    public init?(parsing text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2 else { return nil }
        let model = parts[0]
        guard let first = model.first, first.isASCII, first.isLetter,
            model.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
        else { return nil }
        var count = 1
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].allSatisfy(\.isASCIIDigit), let parsed = Int(parts[1]),
                (1...Accelerator.maximumPerNode).contains(parsed)
            else { return nil }
            count = parsed
        }
        self.init(model: String(model), count: count)
    }

    public var description: String { "\(model):\(count)" }
}

/// How many nodes a job runs on: a fixed gang, or an elastic range.
public enum NodeCount: Hashable, Sendable, Codable {
    case fixed(Int)
    case elastic(min: Int, max: Int)

    public static let maximum = 1024

    public var minimum: Int {
        switch self {
        case .fixed(let count): count
        case .elastic(let min, _): min
        }
    }

    public var maximumCount: Int {
        switch self {
        case .fixed(let count): count
        case .elastic(_, let max): max
        }
    }
}

public enum ProviderName: String, Hashable, Sendable, Codable, CaseIterable {
    case local, sagemaker, vertex, modal
}

public struct ProviderPreference: Hashable, Sendable, Codable {
    public var name: ProviderName
    public var regions: [String]
    public var instanceType: String?

    public init(name: ProviderName, regions: [String] = [], instanceType: String? = nil) {
        self.name = name
        self.regions = regions
        self.instanceType = instanceType
    }
}

public enum MarketPreference: String, Hashable, Sendable, Codable, CaseIterable {
    case spot
    case onDemand = "on-demand"
    case auto
}

/// When the job must be finished: a span after submission, or a fixed instant.
extension JobSpec {
    /// The furthest deadline a spec may set: 90 days after submission (SageMaker's longest
    /// training job is 28 days). The spot policy plans any accepted deadline in bounded time and
    /// memory (`PlanningResolution`), and `spotwise validate` and the API refuse a later one.
    public static let maxDeadlineDays = 90
    public static let maxDeadlineSeconds = Double(maxDeadlineDays) * 86_400
}

public enum Deadline: Hashable, Sendable, Codable {
    case afterSubmission(seconds: Double)
    case at(Date)

    public func instant(submittedAt submission: Date) -> Date {
        switch self {
        case .afterSubmission(let seconds): submission.addingTimeInterval(seconds)
        case .at(let date): date
        }
    }
}

public struct CheckpointPolicy: Hashable, Sendable, Codable {
    public var everySteps: Int
    public var keepLast: Int
    public var storage: CheckpointStorage

    public static let defaultEverySteps = 100
    public static let defaultKeepLast = 3

    public init(
        everySteps: Int = CheckpointPolicy.defaultEverySteps,
        keepLast: Int = CheckpointPolicy.defaultKeepLast,
        storage: CheckpointStorage = .file(path: "checkpoints")
    ) {
        self.everySteps = everySteps
        self.keepLast = keepLast
        self.storage = storage
    }
}

/// Where committed checkpoints live.
public enum CheckpointStorage: Hashable, Sendable, Codable, CustomStringConvertible {
    case file(path: String)
    case s3(bucket: String, prefix: String)

    public var description: String {
        switch self {
        case .file(let path): "file://\(path)"
        case .s3(let bucket, let prefix): prefix.isEmpty ? "s3://\(bucket)" : "s3://\(bucket)/\(prefix)"
        }
    }
}

public struct RetryPolicy: Hashable, Sendable, Codable {
    /// nil means unlimited.
    public var maxPreemptions: Int?
    public var maxFailures: Int
    public var retryOnExitCodes: Set<Int32>

    public static let defaultMaxFailures = 2

    public init(
        maxPreemptions: Int? = nil, maxFailures: Int = RetryPolicy.defaultMaxFailures, retryOnExitCodes: Set<Int32> = []
    ) {
        self.maxPreemptions = maxPreemptions
        self.maxFailures = maxFailures
        self.retryOnExitCodes = retryOnExitCodes
    }
}

/// Where a finished model is registered, and the gate it must pass first.
public struct Registration: Hashable, Sendable, Codable {
    public var model: String
    public var gate: QualityGate?

    public init(model: String, gate: QualityGate? = nil) {
        self.model = model
        self.gate = gate
    }
}

public struct QualityGate: Hashable, Sendable, Codable {
    public enum Rule: Hashable, Sendable, Codable {
        /// The metric must be at least this value (e.g. AUC >= 0.85).
        case atLeast(Double)
        /// The metric must be at most this value (e.g. loss <= 0.3).
        case atMost(Double)
        /// The metric must exceed the model version behind the alias by at least the margin.
        case beatsAlias(String, by: Double)
    }

    public var metric: String
    public var rule: Rule

    public init(metric: String, rule: Rule) {
        self.metric = metric
        self.rule = rule
    }
}
