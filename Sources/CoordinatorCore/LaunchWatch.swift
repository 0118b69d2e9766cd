import Foundation
import SpotwiseCore

/// How the leader watches the capacity it launched, decided as values: `CapacityLauncher` asks
/// the providers and carries out what is decided here.
///
/// A launch is outstanding until its worker registers and takes its job. Each pass looks at
/// every outstanding launch (`look`): its job ended (release the capacity), nothing to do yet,
/// ask the provider, or give up on a launch never confirmed. What the provider answers decides
/// the rest (`after`): only its word that it has no such capacity counts towards giving up a
/// launch it may have started; its silence (an outage) does so only after a much longer wait.
/// Capacity whose worker took its job is still watched, and the provider's word ends the
/// attempt it runs (`runningEnd`).
public enum LaunchWatch {
    /// The watcher's limits.
    public struct Rules: Hashable, Sendable {
        /// A launch is asked about at most once per this many seconds.
        public var observeEverySeconds: Double
        /// How long a launch recorded without the provider's answer waits for its worker.
        public var unconfirmedLaunchSeconds: Double
        /// Lookups by name the provider must answer "no such capacity" before an unconfirmed
        /// launch is given up.
        public var lookupsBeforeGivingUp: Int
        /// How long an unconfirmed, named launch waits while its provider does not answer at all
        /// (an outage, refused credentials): then it is planned again, though the capacity may
        /// exist (it registers, finds nothing to do and leaves when idle).
        public var silentProviderSeconds: Double

        public init(
            observeEverySeconds: Double = 10, unconfirmedLaunchSeconds: Double = 900, lookupsBeforeGivingUp: Int = 2,
            silentProviderSeconds: Double = 3_600
        ) {
            self.observeEverySeconds = observeEverySeconds
            self.unconfirmedLaunchSeconds = unconfirmedLaunchSeconds
            self.lookupsBeforeGivingUp = lookupsBeforeGivingUp
            self.silentProviderSeconds = max(silentProviderSeconds, unconfirmedLaunchSeconds)
        }
    }

    /// What the watcher knows of one outstanding launch.
    public struct Outstanding: Hashable, Sendable {
        /// The provider answered the launch (or was seen to know the capacity since).
        public var confirmed: Bool
        /// The capacity's name was known before the provider answered, so it can be looked up.
        public var named: Bool
        public var launchedAt: Date
        /// When this process last asked the provider about it.
        public var observedAt: Date?
        /// Lookups by name this process made that the provider answered "no such capacity"
        /// (unconfirmed launches only).
        public var notFound: Int
        /// Its job ended and releasing its capacity failed (the provider unreachable): tried
        /// again, once per `observeEverySeconds` from `observedAt`.
        public var releaseFailed: Bool

        public init(
            confirmed: Bool, named: Bool, launchedAt: Date, observedAt: Date? = nil, notFound: Int = 0,
            releaseFailed: Bool = false
        ) {
            self.confirmed = confirmed
            self.named = named
            self.launchedAt = launchedAt
            self.observedAt = observedAt
            self.notFound = notFound
            self.releaseFailed = releaseFailed
        }
    }

    /// What one pass does with an outstanding launch before asking anyone.
    public enum Look: Hashable, Sendable {
        /// Its job ended: release the capacity (when it has a name) and forget the launch once
        /// the provider took the release (or said there was nothing to release).
        case release
        /// Nothing this pass.
        case wait
        /// Ask the provider about it (one of the pass's lookups).
        case ask
        /// Never confirmed, never found, and no worker came: forget it and plan the job again.
        case giveUp
    }

    /// The provider's answer about capacity, as the watcher reads it.
    public enum Answer: Hashable, Sendable {
        case starting
        case running
        /// The provider took the capacity back; it may start it again.
        case interrupted(String)
        /// Gone for good, for `kind` reasons (nil: the provider said no more).
        case ended(String, kind: LaunchFailures.Kind?)
        /// The provider has no capacity of that name (its launch never reached it).
        case notFound
    }

    /// What the provider's answer (nil: none came) decides for an outstanding launch.
    public enum Outcome: Hashable, Sendable {
        /// An unconfirmed launch the provider knows: confirm it. `lookAgain`: it already ended,
        /// so it is asked again on the next pass and settled as a confirmed launch.
        case confirm(lookAgain: Bool)
        /// No answer: wait (nothing is learnt from a provider's silence).
        case noAnswer
        /// The provider has no such capacity: count the lookup (unconfirmed) and wait.
        case notFound
        /// Not found once too often, or the provider silent too long: forget the unconfirmed
        /// launch and plan the job again.
        case giveUp
        /// Starting, running or interrupted: keep the state and keep waiting for the worker.
        case keep(Answer)
        /// Ended before its worker registered: forget it, learn from `kind`, plan the job again.
        case ended(String, kind: LaunchFailures.Kind?)
    }

    /// What one pass does with `launch`. `asksLeft`: lookups the pass may still make.
    public static func look(at launch: Outstanding, jobEnded: Bool, asksLeft: Int, now: Date, rules: Rules) -> Look {
        let due = launch.observedAt.map { now.timeIntervalSince($0) >= rules.observeEverySeconds } ?? true
        if jobEnded {
            // A release that failed is tried again once per period, as one of the pass's
            // lookups, so an outage never holds a pass up with every ended launch at once.
            guard launch.releaseFailed else { return .release }
            return due && asksLeft > 0 ? .release : .wait
        }
        if launch.confirmed || launch.named { return due && asksLeft > 0 ? .ask : .wait }
        // Unconfirmed and unnamed: nothing to ask about; it waits for its worker, then gives up.
        return overdue(launch, now: now, rules: rules) ? .giveUp : .wait
    }

    /// What `answer` decides for `launch`, asked at `now`.
    public static func after(asking launch: Outstanding, answer: Answer?, now: Date, rules: Rules) -> Outcome {
        guard let answer else {
            // Silence: nothing learnt, unless it lasted longer than any launch waits.
            guard !launch.confirmed, now.timeIntervalSince(launch.launchedAt) >= rules.silentProviderSeconds
            else { return .noAnswer }
            return .giveUp
        }
        if answer == .notFound {
            // A confirmed launch existed, and the provider no longer has it: it ended.
            guard !launch.confirmed else { return .ended("the provider no longer has it", kind: nil) }
            guard launch.notFound + 1 >= rules.lookupsBeforeGivingUp, overdue(launch, now: now, rules: rules)
            else { return .notFound }
            return .giveUp
        }
        if !launch.confirmed {
            if case .ended = answer { return .confirm(lookAgain: true) }
            return .confirm(lookAgain: false)
        }
        if case .ended(let why, let kind) = answer { return .ended(why, kind: kind) }
        return .keep(answer)
    }

    /// How an attempt running on watched capacity ends after `answer` (nil: it goes on).
    public static func runningEnd(_ answer: Answer) -> AttemptEndReason? {
        switch answer {
        case .starting, .running, .notFound: nil
        case .interrupted: .preempted(withNotice: false)
        case .ended(_, kind: .capacity): .preempted(withNotice: false)
        case .ended(let why, _): .infrastructureError(why)
        }
    }

    static func overdue(_ launch: Outstanding, now: Date, rules: Rules) -> Bool {
        now.timeIntervalSince(launch.launchedAt) >= rules.unconfirmedLaunchSeconds
    }
}
