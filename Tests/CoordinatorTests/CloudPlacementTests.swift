import CloudAuth
import Coordinator
import CryptoExtras
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Provisioners
import SpotwiseCore
import SpotwiseTesting
import StateStore
import Testing

/// A job spec naming a cloud provider is placed through it: the scheduler offers the provider's
/// pools to the planner, launches capacity on the provider's API (a local fake or the moto server),
/// and the worker that capacity starts registers under the launch's name and gets the job.
@Suite struct CloudPlacementTests {
    static let bootstrap = "bootstrap-secret"
    static let admin = "admin-secret"

    struct Harness {
        let store = InMemoryStateStore()
        let clock = ManualLeaseClock(1_000)
        let board = LiveBoard()
        let policy = LeasePolicy(
            heartbeatMilliseconds: 1_000, leaseMilliseconds: 3_000, restartGraceMilliseconds: 60_000)
        let launcher: CapacityLauncher

        func app() -> some ApplicationProtocol {
            Application(
                router: CoordinatorApplication.router(
                    store: store,
                    tokens: AccessTokens(admin: CloudPlacementTests.admin, bootstrap: CloudPlacementTests.bootstrap),
                    settings: .init(), clock: SystemClock(lease: clock), leasePolicy: policy, board: board))
        }

        var scheduler: JobScheduler {
            JobScheduler(
                store: store, clock: SystemClock(lease: clock), leasePolicy: policy, board: board, launcher: launcher)
        }

        func post(_ client: some TestClientProtocol, _ uri: String, token: String, _ body: String) async throws
            -> TestResponse
        {
            try await client.execute(
                uri: uri, method: .post, headers: [.authorization: "Bearer \(token)"], body: ByteBuffer(string: body))
        }

        func submit(_ client: some TestClientProtocol, provider: String) async throws -> String {
            let spec =
                "name: digits\nrun: python3 train.py\nproviders: [{name: \(provider)}]\nmarket: spot\nresources: {accelerator: A100:1}\n"
            let response = try await post(client, "/v1/jobs", token: CloudPlacementTests.admin, spec)
            #expect(response.status == .created)
            return try JobSummary.decoder.decode(JobSummary.self, from: Data(buffer: response.body)).id
        }

        /// What the launched container's `spotwise worker` does: register under the name and pool
        /// the provisioner put in its environment, then ask for work.
        func startWorker(_ client: some TestClientProtocol, environment: [String: String]) async throws
            -> WorkerProtocol.Assignment?
        {
            let registration = """
                {"name": "\(environment["SPOTWISE_WORKER_NAME"] ?? "")", "provider": "\(environment["SPOTWISE_PROVIDER"] ?? "")",
                 "pool": {"region": "\(environment["SPOTWISE_REGION"] ?? "")", "market": "\(environment["SPOTWISE_MARKET"] ?? "")",
                          "instance_type": "\(environment["SPOTWISE_INSTANCE_TYPE"] ?? "")", "price_per_hour": "\(environment["SPOTWISE_PRICE"] ?? "")",
                          "on_demand_price_per_hour": "\(environment["SPOTWISE_ON_DEMAND_PRICE"] ?? "")"}}
                """
            let response = try await post(client, "/v1/workers", token: CloudPlacementTests.bootstrap, registration)
            #expect(response.status == .created, "\(String(buffer: response.body))")
            let registered = try JSONDecoder().decode(WorkerProtocol.Registered.self, from: Data(buffer: response.body))
            try await scheduler.scheduleOnce()
            let reply = try await post(
                client, "/v1/workers/\(registered.workerID)/assignment", token: registered.token, "")
            return try JSONDecoder().decode(WorkerProtocol.AssignmentReply.self, from: Data(buffer: reply.body))
                .assignment
        }
    }

    static func credentials() -> AWSCredentials { AWSCredentials(accessKeyID: "AKIDTEST", secretAccessKey: "test") }

    static let sagemakerConfiguration = try! SageMakerConfiguration.parse(
        try! String(contentsOf: RepositoryPaths.url("provisioners/sagemaker.yaml"), encoding: .utf8))

    /// A launcher with SageMaker capacity at `endpoint` (a fake, or moto), configured by the
    /// repository's provisioners/sagemaker.yaml; retries do not sleep.
    static func sagemakerLauncher(
        _ endpoint: String, coordinatorURL: String = "https://c", observeEverySeconds: Double = 10
    ) -> CapacityLauncher {
        let client = SageMakerClient(
            region: "us-east-1", endpoint: URL(string: endpoint)!, credentials: Self.credentials, sleep: { _ in })
        return CapacityLauncher(
            providers: [SageMakerCapacity(client: client, configuration: Self.sagemakerConfiguration)],
            coordinatorURL: coordinatorURL, bootstrapToken: Self.bootstrap, observeEverySeconds: observeEverySeconds)
    }

    @Test func aSageMakerJobIsPlacedThroughATrainingJob() async throws {
        let fake = SageMakerFake(statuses: [("InProgress", "Starting")])
        try await withLiveServer(fake.router()) { url in
            let harness = Harness(
                launcher: Self.sagemakerLauncher(url, coordinatorURL: "https://coordinator.example"))
            try await harness.app().test(.router) { client in
                let id = try await harness.submit(client, provider: "sagemaker")
                let plan = try await harness.scheduler.scheduleOnce()
                #expect(plan.placements.isEmpty)
                #expect(plan.waiting[JobID(id)]?.hasPrefix("launched sagemaker \(id)-a1 (ml.") == true)
                let request = try #require(fake.lastRequest)
                #expect(request.trainingJobName == "\(id)-a1" && request.enableManagedSpotTraining)
                #expect(request.environment["SPOTWISE_COORDINATOR_URL"] == "https://coordinator.example")
                // Until its worker registers, the job waits for that launch and launches nothing more.
                let again = try await harness.scheduler.scheduleOnce()
                #expect(again.waiting[JobID(id)]?.contains("waiting for sagemaker \(id)-a1") == true)
                #expect(fake.calls.filter { $0 == "CreateTrainingJob" }.count == 2, "one throttled, one created")

                let assignment = try #require(try await harness.startWorker(client, environment: request.environment))
                #expect(assignment.job == id && assignment.attempt == 1)
                let job = try #require(try await harness.store.job(JobID(id)))
                #expect(job.state == .provisioning)
                #expect(
                    try await harness.store.history(JobID(id)).contains {
                        $0.message.contains("capacity launched for it")
                    })
            }
        }
    }

    @Test func aRestartedCoordinatorKeepsTheLaunchAndGivesItsWorkerTheJob() async throws {
        let fake = SageMakerFake(statuses: [("InProgress", "Starting")])
        try await withLiveServer(fake.router()) { url in
            let before = Harness(launcher: Self.sagemakerLauncher(url))
            try await before.app().test(.router) { app in
                let id = try await before.submit(app, provider: "sagemaker")
                try await before.scheduler.scheduleOnce()
                let request = try #require(fake.lastRequest)
                #expect(try await before.store.launches().map(\.handle) == ["\(id)-a1"])
                // The coordinator restarts: a new launcher over the same store.
                let after = JobScheduler(
                    store: before.store, clock: SystemClock(lease: before.clock), leasePolicy: before.policy,
                    board: before.board,
                    launcher: Self.sagemakerLauncher(url))
                let plan = try await after.scheduleOnce()
                #expect(plan.waiting[JobID(id)]?.contains("waiting for sagemaker \(id)-a1") == true)
                #expect(fake.calls.filter { $0 == "CreateTrainingJob" }.count == 2, "nothing launched again")
                // The launched worker registers; the restarted scheduler gives it the job.
                let environment = request.environment
                let registration = try await before.post(
                    app, "/v1/workers", token: Self.bootstrap,
                    #"{"name": "\#(environment["SPOTWISE_WORKER_NAME"]!)", "provider": "sagemaker", "pool": {"region": "us-east-1", "market": "spot", "instance_type": "\#(environment["SPOTWISE_INSTANCE_TYPE"]!)", "price_per_hour": "0.2", "on_demand_price_per_hour": "0.7"}}"#
                )
                let registered = try JSONDecoder().decode(
                    WorkerProtocol.Registered.self, from: Data(buffer: registration.body))
                let placed = try await after.scheduleOnce()
                #expect(placed.placements.map(\.worker) == [registered.workerID])
                #expect(try await before.store.launches().isEmpty, "the launch is settled once its worker took the job")
            }
        }
    }

    @Test func aLaunchThatEndsBeforeItsWorkerRegistersIsReplacedUnderANewName() async throws {
        let fake = SageMakerFake(statuses: [("Stopped", "MaxWaitTimeExceeded")])
        try await withLiveServer(fake.router()) { url in
            let harness = Harness(launcher: Self.sagemakerLauncher(url, observeEverySeconds: 0))
            try await harness.app().test(.router) { client in
                let id = try await harness.submit(client, provider: "sagemaker")
                // Launches a1, and (watching at once) sees it ended: no spot within the wait.
                try await harness.scheduler.scheduleOnce()
                #expect(fake.lastRequest?.trainingJobName == "\(id)-a1")
                let history = try await harness.store.history(JobID(id)).map(\.message)
                #expect(
                    history.contains { $0.contains("\(id)-a1 ended before its worker registered: no spot capacity") })
                let firstType = try #require(fake.lastRequest?.resourceConfig.instanceType)
                // The next pass plans the job again and launches under a new name, not on the
                // spot pool that just had no capacity (its offer is withheld for a while).
                try await harness.scheduler.scheduleOnce()
                #expect(fake.lastRequest?.trainingJobName == "\(id)-a1-l2")
                #expect(fake.lastRequest?.resourceConfig.instanceType != firstType)
            }
        }
    }

    @Test(.needsMoto) func aSageMakerLaunchOnTheMotoServer() async throws {
        let moto = try TestServers.motoURL()
        let client = SageMakerClient(region: "us-east-1", endpoint: moto, credentials: Self.credentials)
        let harness = Harness(launcher: Self.sagemakerLauncher(moto.absoluteString))
        try await harness.app().test(.router) { app in
            let id = try await harness.submit(app, provider: "sagemaker")
            try await harness.scheduler.scheduleOnce()
            let described = try await client.describeTrainingJob("\(id)-a1")
            #expect(described.enableManagedSpotTraining == true)
            #expect(described.resourceConfig?.instanceType.hasPrefix("ml.") == true)
        }
    }

    @Test func aVertexJobIsPlacedThroughACustomJob() async throws {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let fake = VertexFake(publicKey: key.publicKey, states: ["JOB_STATE_PENDING"])
        try await withLiveServer(fake.router()) { url in
            let keyFile = try JSONSerialization.data(withJSONObject: [
                "type": "service_account", "private_key_id": "kid-1", "private_key": key.pemRepresentation,
                "client_email": "spotwise@my-ml-project.iam.gserviceaccount.com", "token_uri": "\(url)/token",
            ])
            let tokens = GoogleAccessTokens(
                source: .serviceAccount(try GoogleServiceAccountKey.load(keyFile, from: "key")))
            var configuration = try VertexConfiguration.parse(
                try String(contentsOf: RepositoryPaths.url("provisioners/vertex.yaml"), encoding: .utf8))
            configuration.endpoint = URL(string: url)
            let client = VertexClient(
                project: configuration.project, region: configuration.region, endpoint: configuration.endpoint,
                token: { try await tokens.current() }, sleep: { _ in })
            let harness = Harness(
                launcher: CapacityLauncher(
                    providers: [VertexCapacity(client: client, configuration: configuration)],
                    coordinatorURL: "https://c",
                    bootstrapToken: Self.bootstrap))
            try await harness.app().test(.router) { app in
                let id = try await harness.submit(app, provider: "vertex")
                let plan = try await harness.scheduler.scheduleOnce()
                #expect(
                    plan.waiting[JobID(id)]?.hasPrefix(
                        "launched vertex projects/my-ml-project/locations/us-central1/customJobs/") == true)
                let job = try #require(fake.lastJob)
                #expect(job.jobSpec.scheduling?.strategy == "SPOT" && job.displayName == "\(id)-a1")
                let environment = Dictionary(
                    (job.jobSpec.workerPoolSpecs.first?.containerSpec.env ?? []).map { ($0.name, $0.value) },
                    uniquingKeysWith: { a, _ in a })
                let assignment = try #require(try await harness.startWorker(app, environment: environment))
                #expect(assignment.job == id)
            }
        }
    }

    @Test func aModalJobIsPlacedThroughTheAppsEndpoint() async throws {
        let fake = ModalFake(states: ["running"])
        try await withLiveServer(fake.router()) { url in
            let client = ModalClient(endpoint: URL(string: url + "/api")!, token: "app-token", sleep: { _ in })
            let harness = Harness(
                launcher: CapacityLauncher(
                    providers: [ModalCapacity(client: client, prices: ["A100": Money(micros: 3_400_000)])],
                    coordinatorURL: "https://c", bootstrapToken: Self.bootstrap))
            try await harness.app().test(.router) { app in
                let id = try await harness.submit(app, provider: "modal")
                let plan = try await harness.scheduler.scheduleOnce()
                #expect(
                    plan.waiting[JobID(id)]
                        == "launched modal fc-1 (modal.A100, spot): market: spot (the spec asks for spot only)")
                let assignment = try await harness.startWorker(
                    app,
                    environment: [
                        "SPOTWISE_WORKER_NAME": "\(id)-a1", "SPOTWISE_PROVIDER": "modal", "SPOTWISE_REGION": "modal",
                        "SPOTWISE_MARKET": "spot", "SPOTWISE_INSTANCE_TYPE": "modal.A100", "SPOTWISE_PRICE": "3.400000",
                        "SPOTWISE_ON_DEMAND_PRICE": "3.400000",
                    ])
                #expect(assignment?.job == id)
            }
        }
    }

    /// A provider whose every launch is refused as a bad request.
    struct RefusingCapacity: CapacityProvider {
        var provider: ProviderName { .sagemaker }
        var offers: [WorkerPool] {
            [
                WorkerPool(
                    region: "us-east-1", market: .spot, instanceType: "ml.g5.xlarge",
                    pricePerHour: Money(micros: 400_000),
                    onDemandPricePerHour: Money(micros: 1_408_000))
            ]
        }
        func launch(_ request: CapacityRequest) async throws -> String {
            throw AWSError(status: 400, code: "ValidationException", message: "RoleArn is not authorized")
        }
        func observe(_ handle: String) async throws -> CapacityState { .running }
        func release(_ handle: String) async throws {}
    }

    @Test func launchesThatKeepFailingSpendTheJobsInfrastructureBudget() async throws {
        let harness = Harness(
            launcher: CapacityLauncher(
                providers: [RefusingCapacity()], coordinatorURL: "https://c", bootstrapToken: Self.bootstrap))
        try await harness.app().test(.router) { app in
            let id = try await harness.submit(app, provider: "sagemaker")
            for _ in 0..<3 {
                let plan = try await harness.scheduler.scheduleOnce()
                #expect(plan.waiting[JobID(id)]?.contains("ValidationException") == true)
            }
            #expect(try await harness.store.job(JobID(id))?.state == .queued)
            try await harness.scheduler.scheduleOnce()
            let job = try #require(try await harness.store.job(JobID(id)))
            #expect(job.state == .failed)
            #expect(
                job.record.outcome?.hasPrefix(
                    "4 capacity launches failed; last: sagemaker launch failed: ValidationException") == true)
        }
    }

    @Test func theProvidersWordEndsAnAttemptOnInterruptedCapacity() async throws {
        // Observed at launch (Starting), then in the pass that places the attempt on its worker
        // (Training, twice: the launch and the running capacity), then SageMaker says Interrupted.
        let fake = SageMakerFake(statuses: [
            ("InProgress", "Starting"), ("InProgress", "Training"), ("InProgress", "Training"),
            ("InProgress", "Interrupted"),
        ])
        try await withLiveServer(fake.router()) { url in
            let harness = Harness(launcher: Self.sagemakerLauncher(url, observeEverySeconds: 0))
            try await harness.app().test(.router) { app in
                let id = try await harness.submit(app, provider: "sagemaker")
                let first = try await harness.scheduler.scheduleOnce()
                let request = try #require(fake.lastRequest)
                let started = try await harness.startWorker(app, environment: request.environment)
                let history = try await harness.store.history(JobID(id)).map(\.message)
                let assignment = try #require(started, "\(first.waiting) \(history)")
                #expect(assignment.attempt == 1)
                #expect(try await harness.store.job(JobID(id))?.state == .provisioning)
                try await harness.scheduler.scheduleOnce()  // Interrupted: the attempt ends
                let job = try #require(try await harness.store.job(JobID(id)))
                #expect(job.state == .recovering && job.record.preemptions == 1)
                #expect(try await harness.store.segments(job: JobID(id)).first?.endReason == "preempted without notice")
                #expect(
                    try await harness.store.history(JobID(id)).contains { $0.message.contains("\(id)-a1 interrupted") })
                #expect(try await harness.store.lease(job: JobID(id))?.revoked == true, "the old worker is fenced off")
            }
        }
    }
}
