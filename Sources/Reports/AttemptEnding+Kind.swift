/// How an attempt segment ended, read from its stored end reason (the words
/// `AttemptEnding.describe` writes), for what reports draw and count.
public enum SegmentEndKind: String, Sendable, Hashable {
    case running
    case completed
    case interruptedWithNotice = "notice"
    case interruptedWithoutNotice = "no-notice"
    case other

    public init(_ endReason: String?) {
        guard let reason = endReason else {
            self = .running
            return
        }
        if reason == "completed" {
            self = .completed
        } else if reason == "preempted with notice" {
            self = .interruptedWithNotice
        } else if reason.hasPrefix("preempted") || reason.hasPrefix("lost") {
            self = .interruptedWithoutNotice
        } else {
            self = .other
        }
    }

    public var isInterruption: Bool { self == .interruptedWithNotice || self == .interruptedWithoutNotice }
}
