import CloudAuth
import Crypto
import CryptoExtras
import Foundation
import Hummingbird
import Provisioners
import SpotwiseCore
import SpotwiseTesting
import Synchronization
import Testing

/// Vertex AI custom jobs against a local fake that follows the documented shapes: the OAuth2
/// JWT-bearer exchange (the JWT's RS256 signature checked with the key's public half), then
/// create, get and cancel with the token, scripted states, a throttled call, the metadata server.
@Suite struct VertexTests {
    static let configuration = try! VertexConfiguration.parse(
        try! String(contentsOf: RepositoryPaths.url("provisioners/vertex.yaml"), encoding: .utf8))

    static func spec() -> JobSpec {
        var spec = JobSpec(name: "digits", run: "python3 train.py")
        spec.resources.nodes = .fixed(1)
        return spec
    }

    @Test func theRepositoryConfigurationAndTheRequest() throws {
        #expect(Self.configuration.project == "my-ml-project" && Self.configuration.machineTypes.count == 3)
        let now = Date(timeIntervalSince1970: 1_000_000)
        let job = VertexCustomJobs.request(
            job: "job-1a2b", attempt: 2, spec: Self.spec(), market: .spot, machine: Self.configuration.machineTypes[0],
            configuration: Self.configuration, coordinatorURL: "https://c", bootstrapToken: "b",
            deadline: now.addingTimeInterval(7_200), now: now)
        #expect(job.displayName == "job-1a2b-a2")
        #expect(job.jobSpec.scheduling == .init(strategy: "SPOT", timeout: "7200s"))
        let pool = try #require(job.jobSpec.workerPoolSpecs.first)
        #expect(pool.replicaCount == "1" && pool.machineSpec.acceleratorType == "NVIDIA_TESLA_T4")
        #expect(pool.containerSpec.env.contains(.init(name: "SPOTWISE_PRICE", value: "0.180000")))
        let json = String(decoding: try JSONEncoder().encode(job), as: UTF8.self)
        #expect(json.contains(#""replicaCount":"1""#) && json.contains(#""imageUri""#))
        for bad in [
            "project: X\nregion: us-central1\nimage: i\nmachine_types: [{name: a, machine_type: m, spot_price_per_hour: \"1\", on_demand_price_per_hour: \"2\"}]",
            "project: my-ml-project\nregion: us-central1\nimage: i\nmachine_types: [{name: a, machine_type: m, spot_price_per_hour: 1, on_demand_price_per_hour: \"2\"}]",
        ] {
            #expect(throws: VertexConfiguration.Invalid.self) { try VertexConfiguration.parse(bad) }
        }
    }

    @Test func statesMapToAttemptEvents() {
        func job(_ state: String, _ message: String? = nil) -> VertexAPI.CustomJob {
            var job = VertexAPI.CustomJob(
                displayName: "x", jobSpec: .init(workerPoolSpecs: [], scheduling: nil, serviceAccount: nil))
            job.state = state
            job.error = message.map { .init(code: 9, message: $0) }
            return job
        }
        #expect(VertexCustomJobs.observe(job("JOB_STATE_QUEUED")) == .provisioning("JOB_STATE_QUEUED"))
        #expect(VertexCustomJobs.observe(job("JOB_STATE_RUNNING")) == .running)
        #expect(VertexCustomJobs.observe(job("JOB_STATE_SUCCEEDED")) == .succeeded)
        #expect(
            VertexCustomJobs.observe(job("JOB_STATE_FAILED", "The replica workerpool0-0 was preempted"))
                == .preempted("The replica workerpool0-0 was preempted"))
        #expect(VertexCustomJobs.observe(job("JOB_STATE_FAILED", "exit code 1")) == .failed("exit code 1"))
        #expect(VertexError(status: 429, code: "RESOURCE_EXHAUSTED", message: "quota").kind == .throttled)
        #expect(VertexError(status: 400, code: "FAILED_PRECONDITION", message: "STOCKOUT in zone").kind == .capacity)
        #expect(VertexError(status: 401, code: "UNAUTHENTICATED", message: "expired").kind == .credentials)
    }

    @Test func aServiceAccountTokenThenCreateGetAndCancel() async throws {
        let privateKey = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let fake = VertexFake(
            publicKey: privateKey.publicKey, states: ["JOB_STATE_QUEUED", "JOB_STATE_RUNNING", "JOB_STATE_FAILED"])
        try await withLiveServer(fake.router()) { url in
            let keyJSON = try JSONSerialization.data(withJSONObject: [
                "type": "service_account", "project_id": "my-ml-project", "private_key_id": "kid-1",
                "private_key": privateKey.pemRepresentation,
                "client_email": "spotwise@my-ml-project.iam.gserviceaccount.com",
                "token_uri": "\(url)/token",
            ])
            let key = try GoogleServiceAccountKey.load(keyJSON, from: "test key")
            let tokens = GoogleAccessTokens(source: .serviceAccount(key))
            let client = VertexClient(
                project: "my-ml-project", region: "us-central1", endpoint: URL(string: url)!,
                token: { try await tokens.current() }, sleep: { _ in })
            let request = VertexCustomJobs.request(
                job: "job-1a2b", attempt: 1, spec: Self.spec(), market: .spot,
                machine: Self.configuration.machineTypes[0],
                configuration: Self.configuration, coordinatorURL: "https://c", bootstrapToken: "b", deadline: nil,
                now: Date())
            let created = try await client.create(request)
            let name = try #require(created.name)
            #expect(name.hasPrefix("projects/my-ml-project/locations/us-central1/customJobs/"))
            #expect(fake.tokensIssued == 1, "one exchange, then the cached token")
            #expect(fake.createCalls == 2, "the first create was throttled (429) and retried")
            #expect(fake.lastJob?.jobSpec.scheduling?.strategy == "SPOT")
            var seen: [VertexCustomJobs.Observation] = []
            for _ in 0..<3 { seen.append(VertexCustomJobs.observe(try await client.get(name))) }
            #expect(
                seen == [
                    .provisioning("JOB_STATE_QUEUED"), .running, .preempted("The replica workerpool0-0 was preempted"),
                ])
            try await client.cancel(name)
            #expect(fake.cancelled == [name])
            #expect(fake.tokensIssued == 1)
            // A job Vertex does not have is its answer, not an error, for the launch watcher.
            let capacity = VertexCapacity(client: client, configuration: Self.configuration)
            guard case .notFound(let message) = try await capacity.observe(name + "1") else {
                Issue.record("a job Vertex does not have was not answered not found")
                return
            }
            #expect(message == "The CustomJob does not exist.")
        }
    }

    @Test func theMetadataServerTokenAndABadKey() async throws {
        let fake = VertexFake(publicKey: nil, states: ["JOB_STATE_SUCCEEDED"])
        try await withLiveServer(fake.router()) { url in
            let tokens = GoogleAccessTokens(source: .metadataServer(URL(string: url)!))
            let token = try await tokens.current()
            #expect(token == "metadata-token")
        }
        #expect(throws: GoogleAuthError.self) {
            _ = try GoogleServiceAccountKey.load(Data(#"{"type": "authorized_user"}"#.utf8), from: "key.json")
        }
    }
}
