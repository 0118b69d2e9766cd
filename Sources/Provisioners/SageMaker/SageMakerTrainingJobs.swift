import Foundation
import SpotwiseCore

/// Pure decisions for SageMaker: the CreateTrainingJob request for an attempt, and what a
/// DescribeTrainingJob answer means for the attempt.
public enum SageMakerTrainingJobs {
    /// Where the container's `spotwise worker` keeps the checkpoints SageMaker syncs to S3.
    public static let checkpointLocalPath = "/opt/ml/checkpoints"
    /// SageMaker's longest MaxRuntimeInSeconds (28 days).
    public static let maxRuntimeLimit = 28 * 24 * 3_600

    /// `job-1a2b3c4d-a3`: the job id and attempt, within SageMaker's name rule
    /// (`^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$`).
    public static func trainingJobName(job: String, attempt: Int) -> String {
        let safe = String(job.map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "-" })
        let suffix = "-a\(attempt)"
        return String(safe.prefix(63 - suffix.count)).trimmingCharacters(in: CharacterSet(charactersIn: "-")) + suffix
    }

    /// Stopping condition from the deadline: a spot job may wait for capacity and run until the
    /// deadline (MaxWaitTimeInSeconds), and runs at most `maxRuntime` of it (never more than the
    /// wait, as SageMaker requires); without a deadline, `defaultWait` stands in. On demand there
    /// is no waiting, so no MaxWaitTimeInSeconds.
    public static func stoppingCondition(
        market: Market, deadline: Date?, now: Date, maxRuntimeSeconds: Int, defaultWaitSeconds: Int
    ) -> SageMakerAPI.StoppingCondition {
        let untilDeadline = deadline.map { max(1, Int($0.timeIntervalSince(now))) } ?? defaultWaitSeconds
        let wait = min(maxRuntimeLimit, untilDeadline)
        let runtime = max(1, min(maxRuntimeSeconds, wait))
        return SageMakerAPI.StoppingCondition(
            maxRuntimeInSeconds: runtime, maxWaitTimeInSeconds: market == .spot ? wait : nil)
    }

    /// HyperParameters are strings in SageMaker: JSON text of each value (a string as itself).
    public static func hyperParameters(_ values: [String: JSONValue]) -> [String: String] {
        values.mapValues { value in
            if case .string(let text) = value { return text }
            return (try? String(decoding: JSONEncoder().encode(value), as: UTF8.self)) ?? ""
        }
    }

    public struct Launch: Sendable {
        public var job: String
        public var attempt: Int
        public var spec: JobSpec
        public var market: Market
        public var instanceType: String
        public var pricePerHour: Money
        public var onDemandPricePerHour: Money
        public var coordinatorURL: String
        public var bootstrapToken: String
        /// The training job's (and its worker's) name; default `JOB-aN`.
        public var name: String

        public init(
            job: String, attempt: Int, spec: JobSpec, market: Market, instanceType: String, pricePerHour: Money,
            onDemandPricePerHour: Money, coordinatorURL: String, bootstrapToken: String, name: String? = nil
        ) {
            self.name = name ?? SageMakerTrainingJobs.trainingJobName(job: job, attempt: attempt)
            self.job = job
            self.attempt = attempt
            self.spec = spec
            self.market = market
            self.instanceType = instanceType
            self.pricePerHour = pricePerHour
            self.onDemandPricePerHour = onDemandPricePerHour
            self.coordinatorURL = coordinatorURL
            self.bootstrapToken = bootstrapToken
        }
    }

    /// The request for one attempt. The image's entrypoint runs `spotwise worker` from the
    /// `SPOTWISE_*` environment below (see provisioners/Dockerfile).
    public static func request(
        _ launch: Launch, configuration: SageMakerConfiguration, deadline: Date?, now: Date
    ) -> SageMakerAPI.CreateTrainingJob {
        let name = launch.name
        let checkpoint: SageMakerAPI.CheckpointConfig? =
            launch.spec.checkpoint.storage.description.hasPrefix("s3://")
            ? SageMakerAPI.CheckpointConfig(
                s3Uri: "\(launch.spec.checkpoint.storage.description)/\(launch.job)/sagemaker",
                localPath: checkpointLocalPath)
            : nil
        return SageMakerAPI.CreateTrainingJob(
            trainingJobName: name, roleArn: configuration.roleARN,
            algorithmSpecification: .init(trainingImage: configuration.image, trainingInputMode: "File"),
            resourceConfig: .init(
                instanceType: launch.instanceType, instanceCount: launch.spec.resources.nodes.minimum,
                volumeSizeInGB: configuration.volumeGB),
            outputDataConfig: .init(s3OutputPath: configuration.outputPath),
            stoppingCondition: stoppingCondition(
                market: launch.market, deadline: deadline, now: now, maxRuntimeSeconds: configuration.maxRuntimeSeconds,
                defaultWaitSeconds: configuration.defaultWaitSeconds),
            enableManagedSpotTraining: launch.market == .spot, checkpointConfig: checkpoint,
            hyperParameters: hyperParameters(launch.spec.hyperparameters),
            environment: [
                "SPOTWISE_COORDINATOR_URL": launch.coordinatorURL, "SPOTWISE_BOOTSTRAP_TOKEN": launch.bootstrapToken,
                "SPOTWISE_WORKER_NAME": name, "SPOTWISE_PROVIDER": "sagemaker", "SPOTWISE_REGION": configuration.region,
                "SPOTWISE_MARKET": launch.market.rawValue, "SPOTWISE_INSTANCE_TYPE": launch.instanceType,
                "SPOTWISE_PRICE": launch.pricePerHour.exactDescription,
                "SPOTWISE_ON_DEMAND_PRICE": launch.onDemandPricePerHour.exactDescription,
            ],
            tags: [
                .init(key: "spotwise:job", value: launch.job),
                .init(key: "spotwise:attempt", value: "\(launch.attempt)"),
            ]
        )
    }

    /// What a DescribeTrainingJob answer means for the attempt.
    public enum Observation: Hashable, Sendable {
        /// Waiting for (spot) capacity, launching instances, downloading the image.
        case provisioning(String)
        case training
        /// Spot capacity was taken back (SageMaker restarts the job when time allows).
        case interrupted(String)
        /// Spot capacity did not come back within MaxWaitTimeInSeconds: the attempt is over.
        case maxWaitExceeded
        case maxRuntimeExceeded
        case completed
        case stopped
        /// The training failed; `capacity` when the reason is capacity (try another pool).
        case failed(reason: String, capacity: Bool)
    }

    public static func observe(_ described: SageMakerAPI.DescribeTrainingJobResponse) -> Observation {
        switch described.secondaryStatus {
        case "Interrupted":
            return .interrupted(described.secondaryStatusTransitions?.last?.statusMessage ?? "spot interruption")
        case "MaxWaitTimeExceeded": return .maxWaitExceeded
        case "MaxRuntimeExceeded": return .maxRuntimeExceeded
        case "Completed": return .completed
        case "Stopped": return .stopped
        case "Failed":
            let reason = described.failureReason ?? "failed"
            let capacity = ["CapacityError", "InsufficientCapacity", "ResourceLimitExceeded", "capacity"].contains {
                reason.localizedCaseInsensitiveContains($0)
            }
            return .failed(reason: reason, capacity: capacity)
        case "Training", "Uploading": return .training
        default:
            switch described.trainingJobStatus {
            case "Completed": return .completed
            case "Stopped": return .stopped
            case "Failed": return .failed(reason: described.failureReason ?? "failed", capacity: false)
            default: return .provisioning(described.secondaryStatus)
            }
        }
    }

    /// What SageMaker bills: BillableTimeInSeconds (already net of the spot discount) for each
    /// instance, at the instance's on-demand price.
    public static func billed(_ described: SageMakerAPI.DescribeTrainingJobResponse, onDemandPricePerHour: Money)
        -> Money?
    {
        guard let seconds = described.billableTimeInSeconds else { return nil }
        let instances = Int64(described.resourceConfig?.instanceCount ?? 1)
        return onDemandPricePerHour.perHour(over: Int64(seconds) * 1_000 * instances)
    }
}
