import CloudAuth
import CoordinatorCore
import Foundation
import Provisioners
import Scheduler
import SpotwiseCore
import StateStore
import Synchronization

/// Launches cloud capacity (SageMaker training jobs, Vertex custom jobs, Modal calls) for jobs
/// that no registered worker takes. The providers' pools are offered to the planner next to the
/// idle workers, so the spot policy chooses among them alike; choosing an offer launches capacity
/// for the job, whose worker registers as `JOB-aN` and is kept for that job. Launches are watched:
/// one that ends before its worker registers (no capacity, a failure) frees the job to be planned
/// again; one whose job ended meanwhile is released.
///
/// Launches are written to the state store, so a restarted coordinator still gives a launched
/// worker to its job and does not launch again.
public final class CapacityLauncher: Sendable {
    public struct Launch: Sendable {
        public var job: JobID
        public var provider: ProviderName
        public var handle: String
        public var workerName: String
        public var pool: WorkerPool
        public var launchedAt: Date
        var observedAt: Date?
        public var state: CapacityState?
        /// The provider answered the launch (or was seen to know the capacity since).
        public var confirmed = true
        /// Which launch of the job this is (names it).
        public var sequence = 1
        /// Unconfirmed: lookups by name this process made that the provider answered "no such
        /// capacity".
        var notFound = 0
        /// Its job ended and the provider did not take the release: tried again.
        var releaseFailed = false

        /// What the watcher decides from.
        var watched: LaunchWatch.Outstanding {
            LaunchWatch.Outstanding(
                confirmed: confirmed, named: !handle.isEmpty, launchedAt: launchedAt, observedAt: observedAt,
                notFound: notFound, releaseFailed: releaseFailed)
        }
    }

    let providers: [ProviderName: any CapacityProvider]
    let coordinatorURL: String
    let bootstrapToken: String
    /// How outstanding launches are watched (decided by `LaunchWatch`).
    let watchRules: LaunchWatch.Rules
    /// Everything the launcher keeps between passes: one value under one lock.
    struct Memory: Sendable {
        var launches: [JobID: Launch] = [:]
        /// Why a job's last launch ended before its worker registered (shown while it waits).
        var failures: [JobID: String] = [:]
        /// How many launches each job has had (names a new launch uniquely).
        var counts: [JobID: Int] = [:]
        /// What failed launches taught: spot offers withheld, and each job's launches that failed
        /// for other reasons than capacity (decided by `LaunchFailures`).
        var learned = LaunchFailures()
        /// Whether the launches a previous coordinator recorded were read.
        var loaded = false
        /// Counts takeovers (`reloadOnNextPass`): a read of the store that a takeover overtook
        /// is dropped, not laid over the reset.
        var term = 0
        /// Capacity whose worker took its job, still watched.
        var running: [JobID: Running] = [:]

        /// The next launch of `job`: its sequence number.
        mutating func nextSequence(of job: JobID) -> Int {
            counts[job, default: 0] += 1
            return counts[job]!
        }
    }
    private let memory = Mutex(Memory())
    /// The most outstanding launches one pass asks their providers about.
    let observationsPerPass = 20

    /// Capacity whose worker took its job: still polled, so that the provider's word (an
    /// interruption, the capacity gone) ends the attempt even before the lease runs out.
    struct Running: Sendable {
        var provider: ProviderName
        var handle: String
        var attempt: Int
        var epoch: LeaseEpoch
        var observedAt: Date
    }

    /// What the provider said about capacity running an attempt: the attempt to end, and why.
    struct RunningEnd: Sendable {
        var job: JobID
        var attempt: Int
        var epoch: LeaseEpoch
        var reason: AttemptEndReason
        var line: String
    }

    /// The job's launched worker took attempt `attempt`: keep watching its capacity.
    func watchAttempt(_ job: JobID, attempt: Int, epoch: LeaseEpoch, now: Date) {
        guard let launch = outstanding(job) else { return }
        memory.withLock {
            $0.running[job] = Running(
                provider: launch.provider, handle: launch.handle, attempt: attempt, epoch: epoch, observedAt: now)
        }
    }

    /// Polls capacity running attempts (each at most every `observeEverySeconds`); the provider's
    /// word ends an attempt as `LaunchWatch.runningEnd` decides.
    func watchRunning(store: any StateStore, now: Date) async -> [RunningEnd] {
        var ends: [RunningEnd] = []
        for (job, watched) in memory.withLock({ $0.running }) {
            guard now.timeIntervalSince(watched.observedAt) >= watchRules.observeEverySeconds else { continue }
            memory.withLock { $0.running[job]?.observedAt = now }
            guard let stored = try? await store.job(job), let live = stored.record.liveAttempt,
                live.number == watched.attempt, live.epoch == watched.epoch
            else {
                memory.withLock { _ = $0.running.removeValue(forKey: job) }
                continue
            }
            guard let state = try? await providers[watched.provider]?.observe(watched.handle),
                let reason = LaunchWatch.runningEnd(Self.answer(state))
            else { continue }
            let name = "\(watched.provider.rawValue) \(watched.handle)"
            let line =
                switch state {
                case .interrupted(let message): "\(name) interrupted: \(message)"
                case .ended(let why, _): "\(name) ended while running attempt \(watched.attempt): \(why)"
                case .starting, .running, .notFound: "\(name) \(state)"
                }
            ends.append(
                RunningEnd(job: job, attempt: watched.attempt, epoch: watched.epoch, reason: reason, line: line))
            memory.withLock { _ = $0.running.removeValue(forKey: job) }
        }
        return ends
    }

    /// A replica took leadership over: what it knew of launches from an earlier term may be stale
    /// (another leader launched and settled meanwhile), so the next pass reads them again.
    public func reloadOnNextPass() {
        memory.withLock { memory in
            memory.loaded = false
            memory.term += 1
            memory.launches.removeAll()
            memory.running.removeAll()
        }
    }

    /// Reads the launches a previous coordinator recorded (once per term), and takes them in one
    /// step, unless a takeover came while the store was read (the next pass reads again).
    func load(from store: any StateStore) async {
        guard let term = memory.withLock({ $0.loaded ? nil : $0.term }) else { return }
        guard let records = try? await store.launches() else { return }
        memory.withLock { memory in
            guard memory.term == term, !memory.loaded else { return }
            memory.loaded = true
            for record in records {
                guard let provider = ProviderName(rawValue: record.provider) else { continue }
                memory.launches[record.job] =
                    memory.launches[record.job]
                    ?? Launch(
                        job: record.job, provider: provider, handle: record.handle, workerName: record.workerName,
                        pool: record.pool, launchedAt: record.launchedAt, confirmed: record.confirmed,
                        sequence: record.sequence)
                memory.counts[record.job] = max(memory.counts[record.job] ?? 0, record.sequence)
            }
        }
    }

    public init(
        providers: [any CapacityProvider], coordinatorURL: String, bootstrapToken: String,
        observeEverySeconds: Double = 10
    ) {
        self.providers = Dictionary(providers.map { ($0.provider, $0) }, uniquingKeysWith: { a, _ in a })
        self.coordinatorURL = coordinatorURL
        self.bootstrapToken = bootstrapToken
        self.watchRules = LaunchWatch.Rules(observeEverySeconds: observeEverySeconds)
    }

    /// The providers' pools as idle "workers" for the planner (spot offers withheld for a while
    /// after the provider had no spot capacity).
    func offers(now: Date) -> [IdleWorker] {
        let offers = providers.values.flatMap { provider in
            provider.offers.map { pool in
                IdleWorker.offer(provider: provider.provider, pool: pool)
            }
        }
        return memory.withLock { $0.learned.available(offers, at: now) }
    }

    public func outstanding(_ job: JobID) -> Launch? { memory.withLock { $0.launches[job] } }

    public var all: [Launch] { memory.withLock { Array($0.launches.values) } }

    /// Worker name -> the job its capacity was launched for.
    func reservations() -> [String: JobID] {
        memory.withLock {
            Dictionary($0.launches.values.map { ($0.workerName, $0.job) }, uniquingKeysWith: { a, _ in a })
        }
    }

    func lastFailure(_ job: JobID) -> String? { memory.withLock { $0.failures[job] } }

    /// Launches of `job` that failed for other reasons than capacity.
    func failedLaunchCount(_ job: JobID) -> Int { memory.withLock { $0.learned.failedLaunches[job] ?? 0 } }

    /// A launch failed: what it teaches is decided by `LaunchFailures`.
    func noteFailure(job: JobID, provider: ProviderName, pool: WorkerPool, kind: CloudErrorKind?, now: Date) {
        memory.withLock { $0.learned.record(Self.learnt(kind), job: job, provider: provider, pool: pool, at: now) }
    }

    /// The job was placed on its launched worker (or the launch ended): forget it.
    func settle(_ job: JobID, store: any StateStore) async {
        _ = memory.withLock { $0.launches.removeValue(forKey: job) }
        try? await store.removeLaunch(job: job)
    }

    /// The provider knows an unconfirmed launch's capacity: it is watched like any other.
    func confirm(_ launch: Launch, store: any StateStore) async {
        memory.withLock { $0.launches[launch.job]?.confirmed = true }
        try? await store.recordLaunch(
            CapacityLaunchRecord(
                job: launch.job, provider: launch.provider.rawValue, handle: launch.handle,
                workerName: launch.workerName, pool: launch.pool, sequence: launch.sequence,
                launchedAt: launch.launchedAt))
    }

    /// Launches capacity of `planned`'s pool for `job`; returns what the job now waits for.
    func launch(_ job: StoredJob, planned: PlannedPlacement, store: any StateStore, now: Date) async -> String {
        guard let provider = providers[planned.placement.provider] else {
            return "no \(planned.placement.provider) provider"
        }
        let sequence = memory.withLock { $0.nextSequence(of: job.id) }
        let request = CapacityRequest(
            job: job.id.rawValue, attempt: job.record.attemptCount + 1, spec: job.spec, pool: planned.pool,
            coordinatorURL: coordinatorURL, bootstrapToken: bootstrapToken,
            deadline: job.spec.deadline?.instant(submittedAt: job.submittedAt), now: now, sequence: sequence)
        // The launch is recorded before the provider is called (its handle once known): a
        // coordinator that crashes in between, or a deposed leader whose record is refused by
        // the fence, never leaves capacity that the next one does not know of and launches again.
        var record = CapacityLaunchRecord(
            job: job.id, provider: provider.provider.rawValue, handle: provider.handle(before: request) ?? "",
            workerName: request.workerName, pool: planned.pool, sequence: sequence, launchedAt: now, confirmed: false)
        do {
            try await store.recordLaunch(record)
        } catch {
            return "not launched: the launch could not be recorded first: \(error)"
        }
        do {
            let handle = try await provider.launch(request)
            memory.withLock {
                $0.launches[job.id] = Launch(
                    job: job.id, provider: provider.provider, handle: handle, workerName: request.workerName,
                    pool: planned.pool, launchedAt: now, sequence: sequence)
            }
            record.handle = handle
            record.confirmed = true
            try? await store.recordLaunch(record)
            memory.withLock { _ = $0.failures.removeValue(forKey: job.id) }
            return
                "launched \(provider.provider.rawValue) \(handle) (\(planned.pool.instanceType), \(planned.pool.market.rawValue)): \(planned.reason)"
        } catch {
            // No answer (a timeout, a dropped connection) or a failure on the provider's side
            // (5xx after the sender's retries) for capacity the caller named: it may exist. Kept
            // unconfirmed, so watching confirms it by name instead of launching it twice.
            if !record.handle.isEmpty, Self.mayHaveLaunched(error) {
                memory.withLock {
                    $0.launches[job.id] = Launch(
                        job: job.id, provider: provider.provider, handle: record.handle,
                        workerName: request.workerName, pool: planned.pool, launchedAt: now, confirmed: false,
                        sequence: sequence)
                }
                return
                    "\(provider.provider.rawValue) did not answer the launch of \(record.handle) (\(error)): confirming it by name before launching again"
            }
            try? await store.removeLaunch(job: job.id)
            let line = "\(provider.provider.rawValue) launch failed: \(error)"
            memory.withLock { $0.failures[job.id] = line }
            noteFailure(
                job: job.id, provider: provider.provider, pool: planned.pool,
                kind: Self.kind(of: error) ?? .infrastructure,
                now: now)
            return line
        }
    }

    /// Whether a failed release may still be taken later: the provider did not decide (it was
    /// unreachable, throttled, failing, or refused the credentials). One it refused for the
    /// capacity itself (already ended, never existed) is not.
    static func releaseWorthRetrying(_ error: any Error) -> Bool {
        switch kind(of: error) {
        case nil, .throttled, .infrastructure, .credentials: true
        case .user, .capacity: false
        }
    }

    /// Whether a launch that failed with `error` may still have started its capacity: the
    /// provider did not answer, or failed on its side. One it refused (capacity, quota,
    /// throttling, credentials, a bad request) started nothing.
    static func mayHaveLaunched(_ error: any Error) -> Bool {
        switch kind(of: error) {
        case nil, .infrastructure: true
        case .throttled, .credentials, .user, .capacity: false
        }
    }

    static func kind(of error: any Error) -> CloudErrorKind? {
        switch error {
        case let aws as AWSError: aws.kind
        case let vertex as VertexError: vertex.kind
        case let modal as ModalError: modal.kind
        default: nil
        }
    }

    /// Polls outstanding launches (each at most every `observeEverySeconds`, at most
    /// `observationsPerPass` of them per pass), as `LaunchWatch` decides: one that ended is
    /// dropped (its job is planned again), one whose job ended meanwhile is released. Returns
    /// the lines worth writing to the jobs' histories.
    func watch(store: any StateStore, now: Date) async -> [JobID: String] {
        var lines: [JobID: String] = [:]
        // At most `observationsPerPass` calls to providers, the longest unobserved first: a new
        // leader knows hundreds of launches and has observed none, and its first pass must not
        // wait for them all.
        var observations = 0
        let byAge = all.sorted { ($0.observedAt ?? .distantPast) < ($1.observedAt ?? .distantPast) }
        for launch in byAge {
            let jobEnded = (try? await store.job(launch.job))?.state.isTerminal == true
            let look = LaunchWatch.look(
                at: launch.watched, jobEnded: jobEnded, asksLeft: observationsPerPass - observations, now: now,
                rules: watchRules)
            switch look {
            case .wait: continue
            case .release:
                // A retry is one of the pass's lookups (the first release is not).
                if launch.releaseFailed { observations += 1 }
                if launch.handle.isEmpty {
                    await settle(launch.job, store: store)
                    lines[launch.job] =
                        "dropped the unconfirmed \(launch.provider.rawValue) launch of \(launch.workerName): the job ended (its capacity, if it started, leaves when idle)"
                    continue
                }
                do {
                    try await providers[launch.provider]?.release(launch.handle)
                } catch  where Self.releaseWorthRetrying(error) {
                    // The capacity may still run and bill: kept (and recorded) until a release
                    // is taken; a new leader finds the record and releases it too.
                    memory.withLock {
                        $0.launches[launch.job]?.releaseFailed = true
                        $0.launches[launch.job]?.observedAt = now
                    }
                    if !launch.releaseFailed {
                        lines[launch.job] =
                            "releasing \(launch.provider.rawValue) \(launch.handle) failed (tried again every \(Int(watchRules.observeEverySeconds)) s): \(error)"
                    }
                    continue
                } catch {
                    // The provider refused it for good (it already ended, or never existed):
                    // there is nothing left to release.
                    await settle(launch.job, store: store)
                    lines[launch.job] =
                        "\(launch.provider.rawValue) \(launch.handle) needed no release (\(error)): the job ended"
                    continue
                }
                await settle(launch.job, store: store)
                lines[launch.job] = "released \(launch.provider.rawValue) \(launch.handle): the job ended"
            case .giveUp:
                await settle(launch.job, store: store)
                lines[launch.job] = neverConfirmed(launch)
            case .ask:
                observations += 1
                // Marked before asking: a launch whose lookups keep failing waits its turn like
                // the others instead of taking the front of every pass.
                memory.withLock { $0.launches[launch.job]?.observedAt = now }
                let state = try? await providers[launch.provider]?.observe(launch.handle)
                switch LaunchWatch.after(
                    asking: launch.watched, answer: state.map(Self.answer), now: now, rules: watchRules)
                {
                case .noAnswer:
                    break
                case .notFound:
                    memory.withLock { $0.launches[launch.job]?.notFound += 1 }
                case .giveUp:
                    await settle(launch.job, store: store)
                    lines[launch.job] = state == nil ? providerSilent(launch) : neverConfirmed(launch)
                case .confirm(let lookAgain):
                    await confirm(launch, store: store)
                    if lookAgain { memory.withLock { $0.launches[launch.job]?.observedAt = nil } }
                case .keep:
                    memory.withLock { $0.launches[launch.job]?.state = state }
                case .ended(let why, _):
                    await settle(launch.job, store: store)
                    let kind: CloudErrorKind? = if case .ended(_, let kind) = state { kind } else { nil }
                    noteFailure(job: launch.job, provider: launch.provider, pool: launch.pool, kind: kind, now: now)
                    let line =
                        "\(launch.provider.rawValue) \(launch.handle) ended before its worker registered: \(why)\(kind.map { " (\($0.rawValue))" } ?? "")"
                    memory.withLock { $0.failures[launch.job] = line }
                    lines[launch.job] = line
                }
            }
        }
        return lines
    }

    private func providerSilent(_ launch: Launch) -> String {
        "the \(launch.provider.rawValue) launch of \(launch.workerName) was never confirmed and \(launch.provider.rawValue) did not answer for \(Int(watchRules.silentProviderSeconds)) s: planned again (if the capacity did start, its worker finds nothing to do and leaves when idle)"
    }

    private func neverConfirmed(_ launch: Launch) -> String {
        "the \(launch.provider.rawValue) launch of \(launch.workerName) was never confirmed and no worker registered in \(Int(watchRules.unconfirmedLaunchSeconds)) s: planned again"
    }

    /// The provider's state as the watcher reads it.
    static func answer(_ state: CapacityState) -> LaunchWatch.Answer {
        switch state {
        case .starting: .starting
        case .running: .running
        case .interrupted(let message): .interrupted(message)
        case .ended(let why, let kind): .ended(why, kind: learnt(kind))
        case .notFound: .notFound
        }
    }

    /// What a provider's error kind teaches (nil: it gave none).
    static func learnt(_ kind: CloudErrorKind?) -> LaunchFailures.Kind? {
        kind.map { $0 == .capacity ? .capacity : .other }
    }
}
