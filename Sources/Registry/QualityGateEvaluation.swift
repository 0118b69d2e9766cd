import SpotwiseCore

/// What a quality gate said, and why, in words a reviewer can check.
public struct GateVerdict: Hashable, Sendable {
    public var passed: Bool
    public var reason: String

    public init(passed: Bool, reason: String) {
        self.passed = passed
        self.reason = reason
    }
}

/// The version a "beats alias" gate compares with.
public struct GateBaseline: Hashable, Sendable {
    public var alias: String
    public var version: Int
    public var metrics: [String: Double]

    public init(alias: String, version: Int, metrics: [String: Double]) {
        self.alias = alias
        self.version = version
        self.metrics = metrics
    }
}

extension QualityGate {
    /// Judges `metrics` (the trainer's final metrics). A missing or non-finite metric fails; so does
    /// a baseline version that lacks the metric (nothing to compare with is not a pass). A "beats"
    /// gate with no version behind the alias yet passes: the first model has nothing to beat.
    public func evaluate(_ metrics: [String: Double], baseline: GateBaseline? = nil) -> GateVerdict {
        guard let value = metrics[metric] else {
            let found = metrics.keys.sorted().joined(separator: ", ")
            return GateVerdict(
                passed: false,
                reason: "metric \(metric) is missing from the final metrics (found: \(found.isEmpty ? "none" : found))")
        }
        guard value.isFinite else { return GateVerdict(passed: false, reason: "\(metric) is \(value), not a number") }
        let shown = Self.format(value)
        switch rule {
        case .atLeast(let minimum):
            let passed = value >= minimum
            return GateVerdict(
                passed: passed, reason: "\(metric) \(shown) \(passed ? ">=" : "<") \(Self.format(minimum))")
        case .atMost(let maximum):
            let passed = value <= maximum
            return GateVerdict(
                passed: passed, reason: "\(metric) \(shown) \(passed ? "<=" : ">") \(Self.format(maximum))")
        case .beatsAlias(let alias, let margin):
            guard let baseline else {
                return GateVerdict(passed: true, reason: "no version behind alias \(alias) yet: nothing to beat")
            }
            guard let base = baseline.metrics[metric], base.isFinite else {
                return GateVerdict(
                    passed: false,
                    reason: "version \(baseline.version) behind \(alias) has no \(metric) to compare with")
            }
            let gain = value - base
            let passed = margin > 0 ? gain >= margin : gain > 0
            let wanted = margin > 0 ? "at least \(Self.format(margin)) better" : "better"
            return GateVerdict(
                passed: passed,
                reason:
                    "\(metric) \(shown) vs \(Self.format(base)) of version \(baseline.version) (\(alias)): \(gain >= 0 ? "+" : "")\(Self.format(gain)), \(passed ? "" : "not ")\(wanted)"
            )
        }
    }

    /// The rule in the spec's words, e.g. `auc >= 0.85`.
    public var summary: String {
        switch rule {
        case .atLeast(let minimum): "\(metric) >= \(Self.format(minimum))"
        case .atMost(let maximum): "\(metric) <= \(Self.format(maximum))"
        case .beatsAlias(let alias, let margin):
            margin > 0 ? "\(metric) beats \(alias) by \(Self.format(margin))" : "\(metric) beats \(alias)"
        }
    }

    static func format(_ value: Double) -> String {
        var text = String(format: "%.6g", value)
        if text.contains("e") { return text }
        if text.contains(".") {
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        return text
    }
}
