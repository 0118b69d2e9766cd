import SpotwiseCore

/// The job's log lines and metric points on their way to the coordinator: sent in batches, kept
/// (bounded) while it cannot be reached, dropped once it has fenced the attempt off.
extension AttemptSupervisor {
    func flush() -> [Item] {
        var items: [Item] = []
        if let batch = logBatch() { items.append(.action(.sendLogs(batch))) }
        if let batch = metricBatch() { items.append(.action(.sendMetrics(batch, resumedFromStep: startStep))) }
        return items
    }

    func logBatch() -> [String]? {
        guard !pendingLogs.isEmpty else { return nil }
        return pendingLogs.prefix(WorkerProtocol.LogBatch.maxLines).map {
            Self.truncated($0, toUTF8Bytes: WorkerProtocol.LogBatch.maxLineBytes)
        }
    }

    func metricBatch() -> [WorkerProtocol.MetricBatch.Line]? {
        guard !pendingMetrics.isEmpty else { return nil }
        return Array(pendingMetrics.prefix(WorkerProtocol.MetricBatch.maxLines))
    }

    mutating func logsSent(_ count: Int) -> [Item] {
        pendingLogs.removeFirst(min(count, pendingLogs.count))
        return logBatch().map { [.action(.sendLogs($0))] } ?? []
    }

    mutating func logsFailed(fenced: Bool) -> [Item] {
        if fenced { pendingLogs.removeAll() }
        if pendingLogs.count > settings.maxPendingLines {
            pendingLogs.removeFirst(pendingLogs.count - settings.maxPendingLines)
        }
        return []
    }

    mutating func metricsSent(_ count: Int) -> [Item] {
        pendingMetrics.removeFirst(min(count, pendingMetrics.count))
        return metricBatch().map { [.action(.sendMetrics($0, resumedFromStep: startStep))] } ?? []
    }

    mutating func metricsFailed(fenced: Bool) -> [Item] {
        if fenced { pendingMetrics.removeAll() }
        if pendingMetrics.count > settings.maxPendingLines {
            pendingMetrics.removeFirst(pendingMetrics.count - settings.maxPendingLines)
        }
        return []
    }

    /// The longest prefix of `line` within `limit` UTF-8 bytes that ends on a whole character.
    static func truncated(_ line: String, toUTF8Bytes limit: Int) -> String {
        guard line.utf8.count > limit else { return line }
        var bytes = 0
        var kept = String.UnicodeScalarView()
        for scalar in line.unicodeScalars {
            bytes += UTF8.width(scalar)
            if bytes > limit { break }
            kept.append(scalar)
        }
        return String(kept)
    }
}
