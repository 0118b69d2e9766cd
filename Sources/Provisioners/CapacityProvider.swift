import CloudAuth
import Foundation
import SpotwiseCore

/// Capacity a cloud provider can launch on request: a training job (SageMaker), a custom job
/// (Vertex AI) or a function call (Modal) whose container runs `spotwise worker`, which then
/// registers with the coordinator under `workerName` and takes the job's attempt like any worker.
public protocol CapacityProvider: Sendable {
    var provider: ProviderName { get }
    /// The pools it can launch: region, market, instance type, prices.
    var offers: [WorkerPool] { get }
    /// Starts capacity for a job; returns the provider's handle (job name, resource name, call id).
    func launch(_ request: CapacityRequest) async throws -> String
    /// The handle `launch` will return, when the provider lets the caller name the capacity
    /// (SageMaker: the training job's name); nil when the provider assigns it.
    func handle(before request: CapacityRequest) -> String?
    func observe(_ handle: String) async throws -> CapacityState
    /// Stops capacity that is no longer wanted (the job ended before its worker registered).
    func release(_ handle: String) async throws
}

extension CapacityProvider {
    public func handle(before request: CapacityRequest) -> String? { nil }
}

public struct CapacityRequest: Sendable {
    public var job: String
    /// The attempt number the capacity is launched for (names the capacity: `JOB-aN`).
    public var attempt: Int
    public var spec: JobSpec
    public var pool: WorkerPool
    public var coordinatorURL: String
    public var bootstrapToken: String
    public var deadline: Date?
    public var now: Date
    /// Which launch for this attempt (a launch that ended before its worker registered is followed
    /// by another, under a new name: providers refuse a name twice).
    public var sequence: Int

    public init(
        job: String, attempt: Int, spec: JobSpec, pool: WorkerPool, coordinatorURL: String, bootstrapToken: String,
        deadline: Date?, now: Date, sequence: Int = 1
    ) {
        self.sequence = sequence
        self.job = job
        self.attempt = attempt
        self.spec = spec
        self.pool = pool
        self.coordinatorURL = coordinatorURL
        self.bootstrapToken = bootstrapToken
        self.deadline = deadline
        self.now = now
    }

    /// The name the launched worker registers with, so the coordinator gives it this job.
    public var workerName: String {
        SageMakerTrainingJobs.trainingJobName(job: job, attempt: attempt) + (sequence > 1 ? "-l\(sequence)" : "")
    }
}

public enum CapacityState: Hashable, Sendable {
    case starting(String)
    case running
    /// The provider took the capacity back; it may start it again (SageMaker managed spot does).
    case interrupted(String)
    /// Gone for good: ended, stopped, or failed for `kind` reasons (capacity: try another pool).
    case ended(String, kind: CloudErrorKind?)
    /// The provider has no capacity of that name: its answer, not an error (a launch whose
    /// request never reached it). An outage or refused credentials are errors, never this.
    case notFound(String)
}

/// SageMaker training jobs as capacity.
public struct SageMakerCapacity: CapacityProvider {
    public let client: SageMakerClient
    public let configuration: SageMakerConfiguration

    public init(client: SageMakerClient, configuration: SageMakerConfiguration) {
        self.client = client
        self.configuration = configuration
    }

    public var provider: ProviderName { .sagemaker }

    public var offers: [WorkerPool] {
        configuration.instanceTypes.flatMap { type in
            [
                WorkerPool(
                    region: configuration.region, market: .spot, instanceType: type.name,
                    pricePerHour: Money(
                        micros: Int64(
                            (Double(type.onDemandPricePerHour.micros) * (1 - type.expectedSpotDiscount)).rounded())),
                    onDemandPricePerHour: type.onDemandPricePerHour),
                WorkerPool(
                    region: configuration.region, market: .onDemand, instanceType: type.name,
                    pricePerHour: type.onDemandPricePerHour, onDemandPricePerHour: type.onDemandPricePerHour),
            ]
        }
    }

    /// The training job is named by the caller: the launch's worker name.
    public func handle(before request: CapacityRequest) -> String? { request.workerName }

    public func launch(_ request: CapacityRequest) async throws -> String {
        let job = SageMakerTrainingJobs.request(
            SageMakerTrainingJobs.Launch(
                job: request.job, attempt: request.attempt, spec: request.spec, market: request.pool.market,
                instanceType: request.pool.instanceType, pricePerHour: request.pool.pricePerHour,
                onDemandPricePerHour: request.pool.onDemandPricePerHour, coordinatorURL: request.coordinatorURL,
                bootstrapToken: request.bootstrapToken, name: request.workerName),
            configuration: configuration, deadline: request.deadline, now: request.now)
        _ = try await client.createTrainingJob(job)
        return job.trainingJobName
    }

    public func observe(_ handle: String) async throws -> CapacityState {
        let described: SageMakerAPI.DescribeTrainingJobResponse
        do {
            described = try await client.describeTrainingJob(handle)
        } catch let error as AWSError where error.meansNotFound {
            return .notFound(error.message)
        }
        switch SageMakerTrainingJobs.observe(described) {
        case .provisioning(let status): return .starting(status)
        case .training: return .running
        case .interrupted(let message): return .interrupted(message)
        case .maxWaitExceeded: return .ended("no spot capacity within MaxWaitTimeInSeconds", kind: .capacity)
        case .maxRuntimeExceeded: return .ended("MaxRuntimeInSeconds reached", kind: .user)
        case .completed: return .ended("completed", kind: nil)
        case .stopped: return .ended("stopped", kind: nil)
        case .failed(let reason, let capacity): return .ended(reason, kind: capacity ? .capacity : .infrastructure)
        }
    }

    public func release(_ handle: String) async throws { try await client.stopTrainingJob(handle) }
}

/// Vertex AI custom jobs as capacity.
public struct VertexCapacity: CapacityProvider {
    public let client: VertexClient
    public let configuration: VertexConfiguration

    public init(client: VertexClient, configuration: VertexConfiguration) {
        self.client = client
        self.configuration = configuration
    }

    public var provider: ProviderName { .vertex }

    public var offers: [WorkerPool] {
        configuration.machineTypes.flatMap { machine in
            [
                WorkerPool(
                    region: configuration.region, market: .spot, instanceType: machine.name,
                    pricePerHour: machine.spotPricePerHour, onDemandPricePerHour: machine.onDemandPricePerHour),
                WorkerPool(
                    region: configuration.region, market: .onDemand, instanceType: machine.name,
                    pricePerHour: machine.onDemandPricePerHour, onDemandPricePerHour: machine.onDemandPricePerHour),
            ]
        }
    }

    public func launch(_ request: CapacityRequest) async throws -> String {
        guard let machine = configuration.machineTypes.first(where: { $0.name == request.pool.instanceType }) else {
            throw VertexError(
                status: 400, code: "INVALID_ARGUMENT", message: "no machine type \(request.pool.instanceType)")
        }
        var job = VertexCustomJobs.request(
            job: request.job, attempt: request.attempt, spec: request.spec, market: request.pool.market,
            machine: machine,
            configuration: configuration, coordinatorURL: request.coordinatorURL,
            bootstrapToken: request.bootstrapToken, deadline: request.deadline, now: request.now)
        job.displayName = request.workerName
        for index in job.jobSpec.workerPoolSpecs.indices {
            for envIndex in job.jobSpec.workerPoolSpecs[index].containerSpec.env.indices
            where job.jobSpec.workerPoolSpecs[index].containerSpec.env[envIndex].name == "SPOTWISE_WORKER_NAME" {
                job.jobSpec.workerPoolSpecs[index].containerSpec.env[envIndex].value = request.workerName
            }
        }
        guard let name = try await client.create(job).name else {
            throw VertexError(status: 200, code: "NO_NAME", message: "Vertex answered a custom job without a name")
        }
        return name
    }

    public func observe(_ handle: String) async throws -> CapacityState {
        let job: VertexAPI.CustomJob
        do {
            job = try await client.get(handle)
        } catch let error as VertexError where error.status == 404 || error.code == "NOT_FOUND" {
            return .notFound(error.message)
        }
        switch VertexCustomJobs.observe(job) {
        case .provisioning(let state): return .starting(state)
        case .running: return .running
        case .succeeded: return .ended("succeeded", kind: nil)
        case .cancelled: return .ended("cancelled", kind: nil)
        case .preempted(let message): return .ended(message, kind: .capacity)
        case .failed(let message): return .ended(message, kind: .infrastructure)
        }
    }

    public func release(_ handle: String) async throws { try await client.cancel(handle) }
}

/// Modal function calls as capacity (every Modal GPU is preemptible: one spot pool per GPU type).
public struct ModalCapacity: CapacityProvider {
    public let client: ModalClient
    /// GPU type -> price per hour.
    public let prices: [String: Money]

    public init(client: ModalClient, prices: [String: Money]) {
        self.client = client
        self.prices = prices
    }

    public var provider: ProviderName { .modal }

    public var offers: [WorkerPool] {
        prices.keys.sorted().map { gpu in
            WorkerPool(
                region: "modal", market: .spot, instanceType: "modal.\(gpu)", pricePerHour: prices[gpu]!,
                onDemandPricePerHour: prices[gpu]!)
        }
    }

    public func launch(_ request: CapacityRequest) async throws -> String {
        var spec = request.spec
        let gpu = String(request.pool.instanceType.dropFirst("modal.".count))
        spec.resources.accelerator = Accelerator(model: gpu, count: spec.resources.accelerator?.count ?? 1)
        var spawn = try ModalLaunches.spawnRequest(
            job: request.job, attempt: request.attempt, spec: spec, coordinatorURL: request.coordinatorURL,
            bootstrapToken: request.bootstrapToken, pricePerHour: request.pool.pricePerHour, deadline: request.deadline,
            now: request.now)
        spawn.name = request.workerName
        spawn.env?["SPOTWISE_WORKER_NAME"] = request.workerName
        return try await client.spawn(spawn)
    }

    public func observe(_ handle: String) async throws -> CapacityState {
        switch ModalLaunches.observe(try await client.status(callID: handle)) {
        case .running: return .running
        case .succeeded: return .ended("succeeded", kind: nil)
        case .cancelled: return .ended("cancelled", kind: nil)
        case .failed(let detail): return .ended(detail, kind: .infrastructure)
        }
    }

    public func release(_ handle: String) async throws { try await client.cancel(callID: handle) }
}
