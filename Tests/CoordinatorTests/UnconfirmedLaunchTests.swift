import CloudAuth
import Foundation
import Provisioners
import SpotwiseCore
import SpotwiseTesting
import StateStore
import Synchronization
import Testing

@testable import Coordinator

/// Launches recorded before the provider answered (a coordinator or leader that stopped in
/// between): a provider that knows the capacity by name confirms it; one without a name is never
/// released (there is nothing to name), dropped when its job ends, and planned again only after
/// its worker had long enough to register; one whose provider does not answer waits longer.
@Suite struct UnconfirmedLaunchTests {
    final class NamedCapacity: CapacityProvider {
        let released = Mutex<[String]>([])
        let asked = Mutex<[String]>([])
        var provider: ProviderName { .sagemaker }
        var offers: [WorkerPool] { [] }
        func launch(_ request: CapacityRequest) async throws -> String { request.workerName }
        func observe(_ handle: String) async throws -> CapacityState {
            asked.withLock { $0.append(handle) }
            switch handle {
            case "job-named-a1": return .starting("Starting")
            // The provider is down for this one: no answer at all.
            case "job-silent-a1": throw AWSError(status: 503, code: "ServiceUnavailable", message: "try later")
            default: return .notFound("Requested resource not found.")
            }
        }
        func release(_ handle: String) async throws { released.withLock { $0.append(handle) } }
    }

    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    /// A store holding `launches` (job, handle) of SageMaker capacity, recorded at `start` as a
    /// coordinator that stopped after recording them left them.
    static func recorded(_ launches: [(job: String, handle: String)], confirmed: Bool) async throws
        -> InMemoryStateStore
    {
        let store = InMemoryStateStore()
        let pool = WorkerPool(
            region: "us-east-1", market: .spot, instanceType: "ml.g5.xlarge", pricePerHour: Money(micros: 400_000),
            onDemandPricePerHour: Money(micros: 1_408_000))
        for (job, handle) in launches {
            _ = try await store.submit(
                JobSubmission(
                    id: JobID(job), spec: JobSpec(name: job, run: "true"), idempotencyKey: nil, submittedAt: start))
            try await store.recordLaunch(
                CapacityLaunchRecord(
                    job: JobID(job), provider: "sagemaker", handle: handle, workerName: "\(job)-a1", pool: pool,
                    sequence: 1, launchedAt: start, confirmed: confirmed))
        }
        return store
    }

    @Test func anUnconfirmedLaunchIsConfirmedByNameOrWaitedForAndNeverReleasedUnnamed() async throws {
        let start = Self.start
        let store = try await Self.recorded(
            [
                ("job-named", "job-named-a1"), ("job-lost", "job-lost-a1"), ("job-unnamed", ""),
                ("job-silent", "job-silent-a1"),
            ], confirmed: false)
        let capacity = NamedCapacity()
        let launcher = CapacityLauncher(providers: [capacity], coordinatorURL: "http://c", bootstrapToken: "b")
        await launcher.load(from: store)
        #expect(launcher.all.filter { !$0.confirmed }.count == 4)

        _ = await launcher.watch(store: store, now: start.addingTimeInterval(1))
        let records = Dictionary(uniqueKeysWithValues: try await store.launches().map { ($0.job.rawValue, $0) })
        #expect(records["job-named"]?.confirmed == true)  // SageMaker knows it: it exists
        #expect(records["job-lost"]?.confirmed == false && records["job-unnamed"]?.confirmed == false)

        // The unnamed launch's job is cancelled: dropped, and nothing is released without a name.
        _ = try await JobEvents(store: store, board: LiveBoard(), clock: ManualTime(date: start)).apply(
            to: JobID("job-unnamed"), at: start
        ) { _ in .cancelRequested }
        let lines = await launcher.watch(store: store, now: start.addingTimeInterval(20))
        #expect(lines[JobID("job-unnamed")]?.hasPrefix("dropped the unconfirmed sagemaker launch") == true)
        #expect(capacity.released.withLock { $0 }.isEmpty)

        // The named launch the provider never heard of waits for its worker, then is planned again.
        #expect(launcher.outstanding(JobID("job-lost")) != nil)
        let late = await launcher.watch(store: store, now: start.addingTimeInterval(901))
        #expect(late[JobID("job-lost")]?.contains("never confirmed") == true)
        #expect(launcher.outstanding(JobID("job-lost")) == nil)
        #expect(launcher.outstanding(JobID("job-named")) != nil)

        // The launch whose provider does not answer may exist: an outage is not "not found", so
        // it is not launched again after the usual wait, only after an hour of silence.
        #expect(late[JobID("job-silent")] == nil && launcher.outstanding(JobID("job-silent")) != nil)
        let askedBefore = capacity.asked.withLock { $0.filter { $0 == "job-silent-a1" }.count }
        let later = await launcher.watch(store: store, now: start.addingTimeInterval(3_000))
        #expect(later[JobID("job-silent")] == nil && launcher.outstanding(JobID("job-silent")) != nil)
        #expect(capacity.asked.withLock { $0.filter { $0 == "job-silent-a1" }.count } == askedBefore + 1)
        let silent = await launcher.watch(store: store, now: start.addingTimeInterval(3_600))
        #expect(silent[JobID("job-silent")]?.contains("did not answer for 3600 s") == true)
        #expect(launcher.outstanding(JobID("job-silent")) == nil)
    }

    /// A provider that cannot be reached for the first release, and that has already ended one
    /// training job (it refuses to stop that one for good).
    final class FlakyRelease: CapacityProvider {
        let calls = Mutex<[String]>([])
        var provider: ProviderName { .sagemaker }
        var offers: [WorkerPool] { [] }
        func launch(_ request: CapacityRequest) async throws -> String { request.workerName }
        func observe(_ handle: String) async throws -> CapacityState { .running }
        func release(_ handle: String) async throws {
            let count = calls.withLock { calls in
                calls.append(handle)
                return calls.filter { $0 == handle }.count
            }
            if handle == "job-done-a1" {
                throw AWSError(
                    status: 400, code: "ValidationException",
                    message: "The request was rejected because the training job is in status Completed.")
            }
            if count == 1 { throw AWSError(status: 503, code: "ServiceUnavailable", message: "try later") }
        }
    }

    @Test func aReleaseTheProviderDidNotTakeIsKeptAndTriedAgainOncePerPeriod() async throws {
        let start = Self.start
        let store = try await Self.recorded(
            [("job-flaky", "job-flaky-a1"), ("job-done", "job-done-a1")], confirmed: true)
        for job in ["job-flaky", "job-done"] {
            _ = try await JobEvents(store: store, board: LiveBoard(), clock: ManualTime(date: start)).apply(
                to: JobID(job), at: start
            ) { _ in .cancelRequested }
        }
        let capacity = FlakyRelease()
        let launcher = CapacityLauncher(providers: [capacity], coordinatorURL: "http://c", bootstrapToken: "b")
        await launcher.load(from: store)

        let first = await launcher.watch(store: store, now: start.addingTimeInterval(1))
        // Already ended at the provider: nothing left to release.
        #expect(
            first[JobID("job-done")]?.hasPrefix("sagemaker job-done-a1 needed no release (ValidationException") == true)
        #expect(launcher.outstanding(JobID("job-done")) == nil)
        // Unreachable: kept, and its record with it (a new leader would release it too).
        #expect(first[JobID("job-flaky")]?.hasPrefix("releasing sagemaker job-flaky-a1 failed") == true)
        #expect(launcher.outstanding(JobID("job-flaky")) != nil)
        #expect(try await store.launches().map(\.job) == [JobID("job-flaky")])

        // Not again before its period; then taken.
        let soon = await launcher.watch(store: store, now: start.addingTimeInterval(5))
        #expect(soon.isEmpty && capacity.calls.withLock { $0.filter { $0 == "job-flaky-a1" }.count } == 1)
        let later = await launcher.watch(store: store, now: start.addingTimeInterval(11))
        #expect(later[JobID("job-flaky")] == "released sagemaker job-flaky-a1: the job ended")
        #expect(launcher.outstanding(JobID("job-flaky")) == nil)
        #expect(try await store.launches().isEmpty)
        #expect(capacity.calls.withLock { $0 }.sorted() == ["job-done-a1", "job-flaky-a1", "job-flaky-a1"])
    }

    @Test func whatAFailedLaunchOrReleaseLeavesOpen() {
        // A launch may have started capacity when the provider did not answer or failed on its
        // side; not when it refused the request.
        #expect(CapacityLauncher.mayHaveLaunched(CancellationError()))
        #expect(CapacityLauncher.mayHaveLaunched(AWSError(status: 500, code: "InternalFailure", message: "x")))
        #expect(!CapacityLauncher.mayHaveLaunched(AWSError(status: 400, code: "ThrottlingException", message: "x")))
        #expect(!CapacityLauncher.mayHaveLaunched(AWSError(status: 400, code: "ResourceLimitExceeded", message: "x")))
        #expect(!CapacityLauncher.mayHaveLaunched(AWSError(status: 400, code: "ValidationException", message: "x")))
        // A release is tried again unless the provider refused it for the capacity itself.
        #expect(CapacityLauncher.releaseWorthRetrying(CancellationError()))
        #expect(CapacityLauncher.releaseWorthRetrying(AWSError(status: 503, code: "ServiceUnavailable", message: "x")))
        #expect(
            CapacityLauncher.releaseWorthRetrying(AWSError(status: 403, code: "AccessDeniedException", message: "x")))
        #expect(
            !CapacityLauncher.releaseWorthRetrying(AWSError(status: 400, code: "ValidationException", message: "x")))
    }

    @Test func aTakeoverDuringTheReadOfRecordedLaunchesDropsThatRead() async throws {
        let store = FaultInjectingStore(
            try await Self.recorded([("job-a", "job-a-a1"), ("job-b", "job-b-a1")], confirmed: true))
        let launcher = CapacityLauncher(providers: [NamedCapacity()], coordinatorURL: "http://c", bootstrapToken: "b")
        // Another replica took leadership over (and this one back) while the records were read:
        // what that read found may be stale, so it is not taken.
        store.faults.withLock { $0.whileReadingLaunches = { launcher.reloadOnNextPass() } }
        await launcher.load(from: store)
        #expect(launcher.all.isEmpty)
        // The next pass reads again.
        store.faults.withLock { $0.whileReadingLaunches = nil }
        await launcher.load(from: store)
        #expect(Set(launcher.all.map(\.job)) == [JobID("job-a"), JobID("job-b")])
    }
}
