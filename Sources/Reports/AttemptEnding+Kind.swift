import SpotwiseCore

/// How an attempt segment ended, as the timeline draws it: running, completed, or an
/// interruption with or without notice. Read from the stored kind (`AttemptEndKind`), never
/// from the words.
public enum SegmentEndKind: String, Sendable, Hashable {
    case running
    case completed
    case interruptedWithNotice = "notice"
    case interruptedWithoutNotice = "no-notice"
    case other

    public init(_ kind: AttemptEndKind?) {
        switch kind {
        case nil: self = .running
        case .completed: self = .completed
        case .preemptedWithNotice: self = .interruptedWithNotice
        case .preemptedWithoutNotice, .lost: self = .interruptedWithoutNotice
        case .failed, .infrastructure, .cancelled, .resized, .stopped, .other: self = .other
        }
    }

    public var isInterruption: Bool { self == .interruptedWithNotice || self == .interruptedWithoutNotice }
}
