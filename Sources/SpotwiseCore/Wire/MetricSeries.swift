import Foundation

/// One value of one metric at one step, as the trainer reported it in a progress line.
public struct MetricPoint: Hashable, Sendable, Codable {
    public var name: String
    public var step: Int
    public var value: Double
    /// The attempt that reported it.
    public var attempt: Int

    public init(name: String, step: Int, value: Double, attempt: Int) {
        self.name = name
        self.step = step
        self.value = value
        self.attempt = attempt
    }
}

extension WorkerProtocol {
    /// POST /v1/jobs/{id}/attempts/{n}/metrics: progress lines since the last batch, fenced by
    /// epoch like every attempt write. A step may come again (a resend); it replaces the first.
    public struct MetricBatch: Codable, Sendable, Equatable {
        public struct Line: Codable, Sendable, Equatable {
            public var step: Int
            public var metrics: [String: Double]

            public init(step: Int, metrics: [String: Double]) {
                self.step = step
                self.metrics = metrics
            }
        }

        public static let maxLines = 1_000
        public static let fields: Set<String> = ["epoch", "resumed_from_step", "lines"]
        public static let maxMetricsPerLine = 64

        public var epoch: UInt64
        /// The step this attempt resumed from (0 for a fresh start): points of earlier attempts
        /// beyond it are replaced, since the trainer goes over those steps again.
        public var resumedFromStep: Int
        public var lines: [Line]

        public init(epoch: UInt64, resumedFromStep: Int, lines: [Line]) {
            self.epoch = epoch
            self.resumedFromStep = resumedFromStep
            self.lines = lines
        }

        enum CodingKeys: String, CodingKey {
            case epoch, lines
            case resumedFromStep = "resumed_from_step"
        }
    }
}

/// GET /v1/jobs/{id}/metrics: every metric series of a job, across its attempts, by step.
public struct JobMetrics: Hashable, Sendable, Codable {
    public struct Series: Hashable, Sendable, Codable {
        public var name: String
        public var steps: [Int]
        public var values: [Double]
        public var attempts: [Int]

        public init(name: String, steps: [Int], values: [Double], attempts: [Int]) {
            self.name = name
            self.steps = steps
            self.values = values
            self.attempts = attempts
        }
    }

    public var job: String
    public var name: String
    public var state: String
    public var hyperparameters: [String: JSONValue]
    public var finalMetrics: [String: Double]?
    public var series: [Series]

    public init(
        job: String, name: String, state: String, hyperparameters: [String: JSONValue], finalMetrics: [String: Double]?,
        series: [Series]
    ) {
        self.job = job
        self.name = name
        self.state = state
        self.hyperparameters = hyperparameters
        self.finalMetrics = finalMetrics
        self.series = series
    }

    /// Groups points (any order) into series by name, ordered by step.
    public init(job: StoredJobIdentity, points: [MetricPoint]) {
        var byName: [String: [MetricPoint]] = [:]
        for point in points { byName[point.name, default: []].append(point) }
        self.init(
            job: job.id, name: job.name, state: job.state, hyperparameters: job.hyperparameters,
            finalMetrics: job.finalMetrics,
            series: byName.keys.sorted().map { name in
                let sorted = byName[name]!.sorted { $0.step < $1.step }
                return Series(
                    name: name, steps: sorted.map(\.step), values: sorted.map(\.value), attempts: sorted.map(\.attempt))
            })
    }

    enum CodingKeys: String, CodingKey {
        case job, name, state, hyperparameters, series
        case finalMetrics = "final_metrics"
    }
}

/// What `JobMetrics` needs to know about a job.
public struct StoredJobIdentity: Sendable {
    public var id: String
    public var name: String
    public var state: String
    public var hyperparameters: [String: JSONValue]
    public var finalMetrics: [String: Double]?

    public init(
        id: String, name: String, state: String, hyperparameters: [String: JSONValue], finalMetrics: [String: Double]?
    ) {
        self.id = id
        self.name = name
        self.state = state
        self.hyperparameters = hyperparameters
        self.finalMetrics = finalMetrics
    }
}
