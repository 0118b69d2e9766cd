import SpotwiseCore

/// A gang attempt as the coordinator follows it: when each member was last heard from, the
/// first interruption notice a member gave (the others are told to stop too), and an elastic
/// gang's resize. A value with every rule about it: which member is silent (the attempt is
/// lost), and whether the gang may be asked to resize.
public struct GangAttempt: Hashable, Sendable {
    public private(set) var epoch: LeaseEpoch
    /// When each member was last heard from (lease-clock milliseconds).
    public private(set) var lastSeen: [WorkerID: Int64] = [:]
    /// The first notice: `worker: kind`, or the coordinator's own resize request.
    public private(set) var notice: String?
    /// When this process first knew the attempt (placed, or heard from after a restart).
    public private(set) var sinceMilliseconds: Int64
    /// The size an elastic gang was asked to restart with (it checkpoints and stops first).
    public private(set) var resizeTo: Int?

    public init(epoch: LeaseEpoch, sinceMilliseconds: Int64, notice: String? = nil, resizeTo: Int? = nil) {
        self.epoch = epoch
        self.sinceMilliseconds = sinceMilliseconds
        self.notice = notice
        self.resizeTo = resizeTo
    }

    /// The attempt of `epoch` as known from `known` (nil: not known): a newer epoch starts a new
    /// attempt now; an older one is nil (nothing is recorded for an attempt already replaced).
    public static func of(epoch: LeaseEpoch, known: GangAttempt?, at now: Int64) -> GangAttempt? {
        guard let known, known.epoch >= epoch else { return GangAttempt(epoch: epoch, sinceMilliseconds: now) }
        return known.epoch == epoch ? known : nil
    }

    /// A member was heard from (or placed), with the notice it gave; returns whether that notice
    /// is the gang's first (the others are to be told).
    @discardableResult
    public mutating func heard(_ worker: WorkerID, at now: Int64, notice: String? = nil) -> Bool {
        lastSeen[worker] = max(now, lastSeen[worker] ?? .min)
        guard let notice, self.notice == nil else { return false }
        self.notice = "\(worker): \(notice)"
        return true
    }

    /// The first member not heard from for more than `silenceMilliseconds`, with how long; nil
    /// when all are live. `heardElsewhere`: when a member was last heard from by any replica
    /// (shared presence), counted only since this process knew the attempt. A member this process
    /// never heard from counts from now (the same grace every lease gets after a restart).
    public mutating func silentMember(
        of members: [WorkerID], at now: Int64, silenceMilliseconds: Int64, heardElsewhere: [WorkerID: Int64] = [:]
    ) -> (worker: WorkerID, milliseconds: Int64)? {
        var silent: (WorkerID, Int64)?
        for member in members {
            let elsewhere = heardElsewhere[member].flatMap { $0 >= sinceMilliseconds ? $0 : nil } ?? .min
            let seen = max(lastSeen[member] ?? now, elsewhere)
            lastSeen[member] = seen
            if silent == nil, now - seen > silenceMilliseconds { silent = (member, now - seen) }
        }
        return silent
    }

    /// Whether the gang may be asked to resize now: known here for `minimumAgeMilliseconds` (so a
    /// pool's capacity flickering does not restart it over and over), not asked yet, and no
    /// member's notice seen.
    public func mayResize(at now: Int64, minimumAgeMilliseconds: Int64) -> Bool {
        notice == nil && resizeTo == nil && now - sinceMilliseconds >= minimumAgeMilliseconds
    }

    /// Asks the gang to checkpoint and restart with `size` members, if it may; returns whether
    /// it asked.
    public mutating func requestResize(to size: Int, at now: Int64, minimumAgeMilliseconds: Int64) -> Bool {
        guard mayResize(at: now, minimumAgeMilliseconds: minimumAgeMilliseconds) else { return false }
        resizeTo = size
        notice = "the coordinator: resize to \(size)"
        return true
    }

    /// What another replica said of this attempt (its resize, a notice): the first word stands.
    public mutating func join(resizeTo size: Int?, notice: String?) {
        resizeTo = resizeTo ?? size
        self.notice = self.notice ?? notice
    }
}
