/// What the coordinator refuses in a worker's body once it decoded: values of the right type that
/// no real attempt can have. Each `problems` lists every one, saying which field, what it was and
/// what is allowed; empty means the body is fine.
extension WorkerProtocol.Heartbeat {
    public var problems: [String] {
        var problems: [String] = []
        if job.isEmpty || job.count > 100 { problems.append("job must be a job id of 1-100 characters") }
        if attempt < 1 { problems.append("attempt must be a whole number from 1, not \(attempt)") }
        problems += WorkerProtocol.negativeSteps([
            ("step", step), ("total_steps", totalSteps), ("committed_step", committedStep),
        ])
        if let notice, notice.isEmpty || notice.count > 40 {
            problems.append("notice must be 1-40 characters (e.g. spot-termination, rebalance, preempted, sigterm)")
        }
        return problems
    }
}

extension WorkerProtocol.AttemptFinished {
    public var problems: [String] {
        var problems = WorkerProtocol.negativeSteps([("last_step", lastStep), ("committed_step", committedStep)])
        // Names and counts are the trainer's own (its metrics.json); only values JSON cannot mean.
        if let bad = metrics?.sorted(by: { $0.key < $1.key }).first(where: { !$0.value.isFinite }) {
            problems.append("metric '\(bad.key.prefix(40))' must be a finite number, not \(bad.value)")
        }
        return problems
    }
}

extension WorkerProtocol {
    static func negativeSteps(_ fields: [(name: String, value: Int?)]) -> [String] {
        fields.compactMap { field in
            guard let value = field.value, value < 0 else { return nil }
            return "\(field.name) must be a whole number >= 0, not \(value)"
        }
    }
}
