import Foundation
import SpotwiseCore
import StateStore

/// What spot saved, from the cost ledger: totals, groups (by job, team, project, provider or model)
/// and the ledger rows themselves. Every money figure is a sum of the rows' exact micro-dollars, so
/// totals and groups reconcile with the ledger to the cent (to the micro-dollar, in fact).
public struct SavingsReport: Hashable, Sendable, Codable {
    public enum Grouping: String, Hashable, Sendable, Codable, CaseIterable {
        case job, team, project, provider, model
    }

    /// Figures over a set of ledger rows.
    public struct Figures: Hashable, Sendable, Codable {
        public var actual: Money
        public var onDemand: Money
        public var lost: Money
        public var overhead: Money
        public var onDemandForBilledTime: Money
        public var interruptions: Int
        public var lostSteps: Int
        /// Some row's lost work is a lower bound (see `LedgerRow.lostIsLowerBound`): so are these
        /// figures' lost steps, hours and dollars.
        public var lostIsLowerBound = false
        public var lostMilliseconds: Int64
        public var billedMilliseconds: Int64
        public var segments: Int

        public static let zero = Figures(
            actual: .zero, onDemand: .zero, lost: .zero, overhead: .zero, onDemandForBilledTime: .zero,
            interruptions: 0, lostSteps: 0, lostMilliseconds: 0, billedMilliseconds: 0, segments: 0)

        public var savings: Money { onDemand - actual }
        /// `>=` before a lost figure that is a lower bound, nothing before an exact one.
        public var lostPrefix: String { lostIsLowerBound ? ">=" : "" }
        /// Savings as a share of the on-demand-equivalent cost, in percent; nil when that is zero.
        public var savingsPercent: Double? {
            onDemand.micros == 0 ? nil : Double(savings.micros) / Double(onDemand.micros) * 100
        }
        /// What SageMaker's formula, (1 - BillableTimeInSeconds / TrainingTimeInSeconds) x 100, gives
        /// on these rows: billable time is billed time scaled by the spot discount, so every billed
        /// second counts (lost work and overhead included) against its on-demand price.
        public var sageMakerSavingsPercent: Double? {
            onDemandForBilledTime.micros == 0
                ? nil : (1 - Double(actual.micros) / Double(onDemandForBilledTime.micros)) * 100
        }

        mutating func add(_ row: LedgerRow) {
            actual = actual + row.cost
            onDemand = onDemand + row.onDemandEquivalent
            lost = lost + row.lostCost
            overhead = overhead + row.overheadCost
            onDemandForBilledTime = onDemandForBilledTime + row.onDemandForBilledTime
            interruptions += row.interrupted ? 1 : 0
            lostSteps += row.lostSteps
            lostIsLowerBound = lostIsLowerBound || row.lostIsLowerBound
            lostMilliseconds += row.lostMilliseconds
            billedMilliseconds += row.billedMilliseconds
            segments += 1
        }

        enum CodingKeys: String, CodingKey {
            case actual = "actual_usd"
            case onDemand = "on_demand_usd"
            case savings = "savings_usd"
            case savingsPercent = "savings_pct"
            case interruptions
            case lostSteps = "lost_steps"
            case lostIsLowerBound = "lost_is_lower_bound"
            case lost = "lost_usd"
            case lostHours = "lost_hours"
            case overhead = "overhead_usd"
            case sageMakerSavingsPercent = "sagemaker_savings_pct"
            case onDemandForBilledTime = "on_demand_billed_usd"
            case billedHours = "billed_hours"
            case segments
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(actual.exactDescription, forKey: .actual)
            try c.encode(onDemand.exactDescription, forKey: .onDemand)
            try c.encode(savings.exactDescription, forKey: .savings)
            try c.encode(savingsPercent.map(Self.rounded), forKey: .savingsPercent)
            try c.encode(interruptions, forKey: .interruptions)
            try c.encode(lostSteps, forKey: .lostSteps)
            try c.encode(lostIsLowerBound, forKey: .lostIsLowerBound)
            try c.encode(lost.exactDescription, forKey: .lost)
            try c.encode(Self.hours(lostMilliseconds), forKey: .lostHours)
            try c.encode(overhead.exactDescription, forKey: .overhead)
            try c.encode(sageMakerSavingsPercent.map(Self.rounded), forKey: .sageMakerSavingsPercent)
            try c.encode(onDemandForBilledTime.exactDescription, forKey: .onDemandForBilledTime)
            try c.encode(Self.hours(billedMilliseconds), forKey: .billedHours)
            try c.encode(segments, forKey: .segments)
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            func money(_ key: CodingKeys) throws -> Money {
                let text = try c.decode(String.self, forKey: key)
                guard let value = Money(decimalDollars: text) else {
                    throw DecodingError.dataCorruptedError(
                        forKey: key, in: c, debugDescription: "'\(text)' is not dollars")
                }
                return value
            }
            actual = try money(.actual)
            onDemand = try money(.onDemand)
            lost = try money(.lost)
            overhead = try money(.overhead)
            onDemandForBilledTime = try money(.onDemandForBilledTime)
            interruptions = try c.decode(Int.self, forKey: .interruptions)
            lostSteps = try c.decode(Int.self, forKey: .lostSteps)
            lostIsLowerBound = try c.decodeIfPresent(Bool.self, forKey: .lostIsLowerBound) ?? false
            lostMilliseconds = Int64((try c.decode(Double.self, forKey: .lostHours) * 3_600_000).rounded())
            billedMilliseconds = Int64((try c.decode(Double.self, forKey: .billedHours) * 3_600_000).rounded())
            segments = try c.decode(Int.self, forKey: .segments)
        }

        init(
            actual: Money, onDemand: Money, lost: Money, overhead: Money, onDemandForBilledTime: Money,
            interruptions: Int, lostSteps: Int, lostMilliseconds: Int64, billedMilliseconds: Int64, segments: Int
        ) {
            self.actual = actual
            self.onDemand = onDemand
            self.lost = lost
            self.overhead = overhead
            self.onDemandForBilledTime = onDemandForBilledTime
            self.interruptions = interruptions
            self.lostSteps = lostSteps
            self.lostMilliseconds = lostMilliseconds
            self.billedMilliseconds = billedMilliseconds
            self.segments = segments
        }

        static func rounded(_ value: Double) -> Double { (value * 100).rounded() / 100 }
        static func hours(_ milliseconds: Int64) -> Double { (Double(milliseconds) / 3_600_000 * 1e6).rounded() / 1e6 }
    }

    public struct Group: Hashable, Sendable, Codable {
        public var key: String
        public var jobs: Int
        public var figures: Figures

        public func encode(to encoder: any Encoder) throws {
            try figures.encode(to: encoder)
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(key, forKey: .key)
            try c.encode(jobs, forKey: .jobs)
        }

        public init(from decoder: any Decoder) throws {
            figures = try Figures(from: decoder)
            let c = try decoder.container(keyedBy: Keys.self)
            key = try c.decode(String.self, forKey: .key)
            jobs = try c.decode(Int.self, forKey: .jobs)
        }

        init(key: String, jobs: Int, figures: Figures) {
            self.key = key
            self.jobs = jobs
            self.figures = figures
        }

        enum Keys: String, CodingKey { case key, jobs }
    }

    public var generatedAt: Date
    public var since: Date?
    public var until: Date?
    public var groupedBy: Grouping
    public var totals: Figures
    public var groups: [Group]
    public var segments: [LedgerRow]

    enum CodingKeys: String, CodingKey {
        case since, until, totals, groups, segments
        case generatedAt = "generated_at"
        case groupedBy = "by"
    }

    /// The report over `rows` whose segment started in [since, until), grouped by `grouping`;
    /// groups are ordered by actual cost, largest first.
    public init(rows: [LedgerRow], since: Date?, until: Date?, by grouping: Grouping, generatedAt: Date) {
        let selected = rows.filter { row in
            (since.map { row.startedAt >= $0 } ?? true) && (until.map { row.startedAt < $0 } ?? true)
        }.sorted { ($0.startedAt, $0.job, $0.attempt) < ($1.startedAt, $1.job, $1.attempt) }
        var totals = Figures.zero
        var byKey: [String: (figures: Figures, jobs: Set<String>)] = [:]
        for row in selected {
            totals.add(row)
            let key = Self.key(of: row, by: grouping)
            byKey[key, default: (.zero, [])].figures.add(row)
            byKey[key, default: (.zero, [])].jobs.insert(row.job)
        }
        self.generatedAt = generatedAt
        self.since = since
        self.until = until
        self.groupedBy = grouping
        self.totals = totals
        self.groups = byKey.map { Group(key: $0.key, jobs: $0.value.jobs.count, figures: $0.value.figures) }
            .sorted { ($1.figures.actual, $0.key) < ($0.figures.actual, $1.key) }
        self.segments = selected
    }

    /// What a table's `>=` before lost work means, for the pages and tables that show one.
    public static let lowerBoundNote =
        ">= lost work is a lower bound: an attempt ended without its worker's last report (lost, or interrupted without notice), and its trainer may have gone past the last step the coordinator heard of"

    static func key(of row: LedgerRow, by grouping: Grouping) -> String {
        switch grouping {
        case .job: row.jobName.isEmpty ? row.job : "\(row.job) (\(row.jobName))"
        case .team: row.team ?? "(no team tag)"
        case .project: row.project ?? "(no project tag)"
        case .provider: row.provider
        case .model: row.model ?? "(not registered)"
        }
    }

    /// Parses a report window's bound: an RFC 3339 time (`2026-11-30T09:00:00Z`, fractions
    /// allowed) or a date (`2026-11-30`, midnight UTC).
    public static func time(_ text: String) -> Date? {
        RFC3339.dateTime(text) ?? RFC3339.fullDate(text)
    }

    /// What `job` has cost so far: its ledger rows' sum, open segments priced up to `now`.
    public static func spent(by job: StoredJob, in store: any StateStore, now: Date) async throws -> Money {
        try await store.segments(job: job.id).reduce(Money.zero) {
            $0 + LedgerRow(segment: $1, job: job, now: now).cost
        }
    }

    /// The ledger of a store: one row per segment, jobs looked up once; each row knows the step
    /// its job's next attempt resumed from.
    public static func ledger(from store: any StateStore, now: Date) async throws -> [LedgerRow] {
        let segments = try await store.segments(job: nil)
        var jobs: [JobID: StoredJob] = [:]
        for id in Set(segments.map(\.job)) { jobs[id] = try await store.job(id) }
        var byAttempt: [JobID: [Int: AttemptSegment]] = [:]
        for segment in segments { byAttempt[segment.job, default: [:]][segment.attempt] = segment }
        return segments.map {
            LedgerRow(segment: $0, job: jobs[$0.job], now: now, next: byAttempt[$0.job]?[$0.attempt + 1])
        }
    }
}
