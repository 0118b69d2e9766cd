import CloudAuth
import Foundation
import Hummingbird
import Provisioners
import SpotwiseCore
import SpotwiseTesting
import Synchronization
import Testing

/// The SageMaker provisioner's parts: the request it builds, the configuration, what statuses
/// mean, and the client against the moto server (create, describe, list) and against a local fake
/// that plays what moto cannot (interruptions, max wait exceeded, throttling, capacity errors).
@Suite struct SageMakerTests {
    static let configuration = try! SageMakerConfiguration.parse(
        """
        region: us-west-2
        role_arn: arn:aws:iam::123456789012:role/spotwise-training
        image: 123456789012.dkr.ecr.us-west-2.amazonaws.com/spotwise-worker:latest
        output_path: s3://spotwise-models/output
        instance_types:
          - {name: ml.g5.xlarge, on_demand_price_per_hour: "1.408", expected_spot_discount: 0.7}
        max_runtime_hours: 24
        """)

    static func launch(market: Market = .spot) throws -> SageMakerTrainingJobs.Launch {
        var spec = JobSpec(name: "digits", run: "python3 train.py")
        spec.hyperparameters = ["learning_rate": .double(0.1), "epochs": .int(40), "optimizer": .string("sgd")]
        spec.checkpoint.storage = .s3(bucket: "ckpt", prefix: "runs")
        return SageMakerTrainingJobs.Launch(
            job: "job-1a2b3c4d", attempt: 3, spec: spec, market: market, instanceType: "ml.g5.xlarge",
            pricePerHour: Money(micros: 422_400), onDemandPricePerHour: Money(micros: 1_408_000),
            coordinatorURL: "https://coordinator.example:7070", bootstrapToken: "boot")
    }

    @Test func theRequestFollowsTheJobAndItsDeadline() throws {
        let now = Date(timeIntervalSince1970: 1_000_000)
        let request = SageMakerTrainingJobs.request(
            try Self.launch(), configuration: Self.configuration, deadline: now.addingTimeInterval(36 * 3_600), now: now
        )
        #expect(request.trainingJobName == "job-1a2b3c4d-a3")
        #expect(request.enableManagedSpotTraining)
        // Wait until the deadline (36 h); run at most the configured 24 h of it.
        #expect(request.stoppingCondition == .init(maxRuntimeInSeconds: 86_400, maxWaitTimeInSeconds: 129_600))
        #expect(
            request.checkpointConfig
                == .init(s3Uri: "s3://ckpt/runs/job-1a2b3c4d/sagemaker", localPath: "/opt/ml/checkpoints"))
        #expect(request.hyperParameters == ["learning_rate": "0.1", "epochs": "40", "optimizer": "sgd"])
        #expect(request.environment["SPOTWISE_MARKET"] == "spot" && request.environment["SPOTWISE_PRICE"] == "0.422400")
        #expect(request.resourceConfig == .init(instanceType: "ml.g5.xlarge", instanceCount: 1, volumeSizeInGB: 50))
        let onDemand = SageMakerTrainingJobs.request(
            try Self.launch(market: .onDemand), configuration: Self.configuration,
            deadline: now.addingTimeInterval(3_600),
            now: now)
        #expect(!onDemand.enableManagedSpotTraining && onDemand.stoppingCondition.maxWaitTimeInSeconds == nil)
        #expect(onDemand.stoppingCondition.maxRuntimeInSeconds == 3_600, "never past the deadline")
        let long = SageMakerTrainingJobs.trainingJobName(job: String(repeating: "x", count: 80) + "_y", attempt: 12)
        #expect(long.count <= 63 && long.hasSuffix("-a12") && !long.contains("_"))
    }

    @Test func aBadConfigurationSaysWhichFieldAndWhatIsAllowed() {
        let cases: [(String, String)] = [
            (
                "region: moon-1\nrole_arn: arn:aws:iam::1:role/r\nimage: i\noutput_path: s3://b\ninstance_types: [{name: ml.g5.xlarge, on_demand_price_per_hour: \"1\"}]",
                "region"
            ),
            (
                "region: us-east-1\nrole_arn: r\nimage: i\noutput_path: s3://b\ninstance_types: [{name: ml.g5.xlarge, on_demand_price_per_hour: \"1\"}]",
                "role_arn"
            ),
            (
                "region: us-east-1\nrole_arn: arn:aws:iam::1:role/r\nimage: i\noutput_path: s3://b\ninstance_types: [{name: ml.g5.xlarge, on_demand_price_per_hour: 1.2}]",
                "on_demand_price_per_hour"
            ),
            (
                "region: us-east-1\nrole_arn: arn:aws:iam::1:role/r\nimage: i\noutput_path: s3://b\ninstance_types: [{name: ml.g5.xlarge, on_demand_price_per_hour: \"1\"}]\nzone: x",
                "zone"
            ),
        ]
        for (yaml, field) in cases {
            do {
                _ = try SageMakerConfiguration.parse(yaml)
                Issue.record("accepted a bad \(field)")
            } catch {
                #expect("\(error)".contains(field), "\(error)")
            }
        }
    }

    static func described(_ primary: String, _ secondary: String, failure: String? = nil)
        -> SageMakerAPI.DescribeTrainingJobResponse
    {
        SageMakerAPI.DescribeTrainingJobResponse(
            trainingJobName: "j", trainingJobStatus: primary, secondaryStatus: secondary,
            secondaryStatusTransitions: nil,
            failureReason: failure, billableTimeInSeconds: 900, trainingTimeInSeconds: 3_000,
            enableManagedSpotTraining: true,
            resourceConfig: .init(instanceType: "ml.g5.xlarge", instanceCount: 2, volumeSizeInGB: 50))
    }

    @Test func statusesMapToAttemptEventsAndBillableTimeToMoney() {
        typealias O = SageMakerTrainingJobs.Observation
        #expect(SageMakerTrainingJobs.observe(Self.described("InProgress", "Starting")) == O.provisioning("Starting"))
        #expect(SageMakerTrainingJobs.observe(Self.described("InProgress", "Training")) == O.training)
        #expect(
            SageMakerTrainingJobs.observe(Self.described("InProgress", "Interrupted"))
                == O.interrupted("spot interruption"))
        #expect(SageMakerTrainingJobs.observe(Self.described("Stopped", "MaxWaitTimeExceeded")) == O.maxWaitExceeded)
        #expect(SageMakerTrainingJobs.observe(Self.described("Completed", "Completed")) == O.completed)
        #expect(
            SageMakerTrainingJobs.observe(
                Self.described("Failed", "Failed", failure: "CapacityError: no ml.p4d capacity"))
                == O.failed(reason: "CapacityError: no ml.p4d capacity", capacity: true))
        #expect(
            SageMakerTrainingJobs.observe(Self.described("Failed", "Failed", failure: "AlgorithmError: exit 1"))
                == O.failed(reason: "AlgorithmError: exit 1", capacity: false))
        // 900 billable seconds x 2 instances at $1.408/h.
        #expect(
            SageMakerTrainingJobs.billed(
                Self.described("Completed", "Completed"), onDemandPricePerHour: Money(micros: 1_408_000))
                == Money(micros: 704_000))
    }

    @Test(.needsMoto) func createDescribeAndListOnTheMotoServer() async throws {
        let moto = try TestServers.motoURL()
        let client = SageMakerClient(
            region: "us-west-2", endpoint: moto,
            credentials: { AWSCredentials(accessKeyID: "AKIDTEST", secretAccessKey: "test") })
        var request = SageMakerTrainingJobs.request(
            try Self.launch(), configuration: Self.configuration, deadline: nil, now: Date())
        request.trainingJobName = "moto-\(UUID().uuidString.prefix(8).lowercased())-a1"
        let arn = try await client.createTrainingJob(request)
        #expect(arn.hasSuffix("training-job/\(request.trainingJobName)"))
        let described = try await client.describeTrainingJob(request.trainingJobName)
        #expect(described.enableManagedSpotTraining == true)
        #expect(SageMakerTrainingJobs.observe(described) == .completed, "moto completes jobs at once")
        let listed = try await client.listTrainingJobs(nameContains: String(request.trainingJobName.prefix(13)))
        #expect(listed.map(\.trainingJobName) == [request.trainingJobName])
        do {
            _ = try await client.describeTrainingJob("no-such-job")
            Issue.record("described a job that does not exist")
        } catch let error as AWSError {
            #expect(error.kind == .user && error.meansNotFound, "\(error)")
        }
        // The watcher reads that as the provider's word, not as an error.
        let capacity = SageMakerCapacity(client: client, configuration: Self.configuration)
        guard case .notFound = try await capacity.observe("no-such-job") else {
            Issue.record("a job moto does not know was not answered not found")
            return
        }
        #expect(try await capacity.observe(request.trainingJobName) == .ended("completed", kind: nil))
    }

    @Test func onlyTheServicesWordThatNothingHasThatNameMeansNotFound() {
        // SageMaker's own answer (aws/aws-sdk#165), moto's, and the documented code.
        #expect(
            AWSError(status: 400, code: "ValidationException", message: "Requested resource not found.").meansNotFound)
        #expect(
            AWSError(status: 400, code: "ValidationException", message: "Could not find training job 'arn:...'")
                .meansNotFound)
        #expect(AWSError(status: 400, code: "ResourceNotFound", message: "x").meansNotFound)
        // Anything else is an error: an outage, a throttle, a bad request, refused credentials.
        #expect(
            !AWSError(status: 400, code: "ValidationException", message: "1 validation error detected").meansNotFound)
        #expect(!AWSError(status: 503, code: "ServiceUnavailable", message: "not found a server").meansNotFound)
        #expect(!AWSError(status: 400, code: "ThrottlingException", message: "Rate exceeded").meansNotFound)
        #expect(!AWSError(status: 403, code: "AccessDeniedException", message: "not authorized").meansNotFound)
    }

    @Test func theFakePlaysInterruptionsMaxWaitThrottlingAndCapacity() async throws {
        let fake = SageMakerFake(statuses: [
            ("InProgress", "Starting"), ("InProgress", "Training"), ("InProgress", "Interrupted"),
            ("InProgress", "Training"), ("Stopped", "MaxWaitTimeExceeded"),
        ])
        try await withLiveServer(fake.router()) { url in
            let client = SageMakerClient(
                region: "us-west-2", endpoint: URL(string: url)!,
                credentials: { AWSCredentials(accessKeyID: "AKIDTEST", secretAccessKey: "test") }, sleep: { _ in })
            let request = SageMakerTrainingJobs.request(
                try Self.launch(), configuration: Self.configuration, deadline: nil, now: Date())
            // The first create is throttled; the sender retries it.
            _ = try await client.createTrainingJob(request)
            #expect(fake.calls.filter { $0 == "CreateTrainingJob" }.count == 2)
            #expect(fake.lastRequest?.trainingJobName == request.trainingJobName)
            var seen: [SageMakerTrainingJobs.Observation] = []
            for _ in 0..<5 {
                seen.append(
                    SageMakerTrainingJobs.observe(try await client.describeTrainingJob(request.trainingJobName)))
            }
            #expect(
                seen == [
                    .provisioning("Starting"), .training, .interrupted("spot capacity reclaimed"), .training,
                    .maxWaitExceeded,
                ])
            try await client.stopTrainingJob(request.trainingJobName)
            #expect(fake.calls.last == "StopTrainingJob")
            // No capacity: a classified error the policy can act on, not retried.
            fake.failNextCreate(code: "ResourceLimitExceeded", message: "no ml.g5.xlarge capacity for spot")
            do {
                _ = try await client.createTrainingJob(request)
                Issue.record("created without capacity")
            } catch let error as AWSError {
                #expect(error.kind == .capacity && error.code == "ResourceLimitExceeded" && error.status == 400)
            }
            // Every call was signed for the sagemaker service.
            #expect(fake.authorizations.allSatisfy { $0.contains("/us-west-2/sagemaker/aws4_request") })
        }
    }
}

extension SageMakerTests {
    @Test func theRepositoryConfigurationParses() throws {
        let text = try String(contentsOf: RepositoryPaths.url("provisioners/sagemaker.yaml"), encoding: .utf8)
        let parsed = try SageMakerConfiguration.parse(text)
        #expect(parsed.region == "us-east-1" && parsed.instanceTypes.map(\.name).contains("ml.g4dn.xlarge"))
        #expect(
            parsed.maxRuntimeSeconds == 72 * 3_600 && parsed.defaultWaitSeconds == 96 * 3_600 && parsed.endpoint == nil)
    }
}
