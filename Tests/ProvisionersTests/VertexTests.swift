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

/// A local Vertex AI and Google token endpoint with the documented shapes.
final class VertexFake: Sendable {
    struct State {
        var states: [String]
        var tokensIssued = 0
        var createCalls = 0
        var lastJob: VertexAPI.CustomJob?
        var cancelled: [String] = []
    }

    let publicKey: _RSA.Signing.PublicKey?
    let state: Mutex<State>

    init(publicKey: _RSA.Signing.PublicKey?, states: [String]) {
        self.publicKey = publicKey
        state = Mutex(State(states: states))
    }

    var tokensIssued: Int { state.withLock { $0.tokensIssued } }
    var createCalls: Int { state.withLock { $0.createCalls } }
    var lastJob: VertexAPI.CustomJob? { state.withLock { $0.lastJob } }
    var cancelled: [String] { state.withLock { $0.cancelled } }

    static func json(_ text: String, _ status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// Checks a JWT-bearer assertion as Google's token endpoint does (the parts that matter here).
    func verify(_ form: String) -> Bool {
        let fields = Dictionary(
            form.split(separator: "&").map { pair -> (String, String) in
                let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                return (parts[0], parts.count > 1 ? (parts[1].removingPercentEncoding ?? parts[1]) : "")
            }, uniquingKeysWith: { a, _ in a })
        guard fields["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer", let jwt = fields["assertion"],
            let publicKey
        else { return false }
        let parts = jwt.split(separator: ".")
        guard parts.count == 3, let header = GoogleJWT.decodeBase64URL(parts[0]),
            let claims = GoogleJWT.decodeBase64URL(parts[1]), let signature = GoogleJWT.decodeBase64URL(parts[2]),
            let headerObject = try? JSONSerialization.jsonObject(with: header) as? [String: Any],
            let claimObject = try? JSONSerialization.jsonObject(with: claims) as? [String: Any]
        else { return false }
        let signed = Data("\(parts[0]).\(parts[1])".utf8)
        let valid = publicKey.isValidSignature(
            _RSA.Signing.RSASignature(rawRepresentation: signature), for: SHA256.hash(data: signed),
            padding: .insecurePKCS1v1_5)
        let iat = claimObject["iat"] as? Int ?? 0
        return valid && headerObject["alg"] as? String == "RS256" && headerObject["kid"] as? String == "kid-1"
            && claimObject["scope"] as? String == GoogleJWT.cloudPlatformScope
            && (claimObject["aud"] as? String)?.hasSuffix("/token") == true
            && claimObject["iss"] as? String == "spotwise@my-ml-project.iam.gserviceaccount.com"
            && (claimObject["exp"] as? Int ?? 0) - iat == 3_600
    }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/token") { request, _ -> Response in
            let form = String(buffer: try await request.body.collect(upTo: 1 << 16))
            guard self.verify(form) else {
                return Self.json(
                    #"{"error": "invalid_grant", "error_description": "Invalid JWT Signature."}"#, .badRequest)
            }
            self.state.withLock { $0.tokensIssued += 1 }
            return Self.json(#"{"access_token": "ya29.fake-token", "expires_in": 3599, "token_type": "Bearer"}"#)
        }
        router.get("/computeMetadata/v1/instance/service-accounts/default/token") { request, _ -> Response in
            guard request.headers[.init("Metadata-Flavor")!] == "Google" else { return Self.json("{}", .forbidden) }
            return Self.json(#"{"access_token": "metadata-token", "expires_in": 3599, "token_type": "Bearer"}"#)
        }
        let unauthorized =
            #"{"error": {"code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED"}}"#
        router.post("/v1/projects/:project/locations/:region/customJobs") { request, context -> Response in
            guard request.headers[.authorization] == "Bearer ya29.fake-token" else {
                return Self.json(unauthorized, .unauthorized)
            }
            let body = try await request.body.collect(upTo: 1 << 20)
            let throttled = self.state.withLock { state -> Bool in
                state.createCalls += 1
                return state.createCalls == 1
            }
            if throttled {
                return Self.json(
                    #"{"error": {"code": 429, "message": "Quota exceeded for aiplatform.googleapis.com/custom_model_training_requests", "status": "RESOURCE_EXHAUSTED"}}"#,
                    .tooManyRequests)
            }
            var job = try JSONDecoder().decode(VertexAPI.CustomJob.self, from: Data(buffer: body))
            self.state.withLock { $0.lastJob = job }
            let project = context.parameters.get("project") ?? ""
            let region = context.parameters.get("region") ?? ""
            job.name = "projects/\(project)/locations/\(region)/customJobs/1234567890"
            job.state = "JOB_STATE_PENDING"
            return Self.json(String(decoding: try JSONEncoder().encode(job), as: UTF8.self))
        }
        router.get("/v1/projects/:project/locations/:region/customJobs/:id") { request, context -> Response in
            guard request.headers[.authorization] == "Bearer ya29.fake-token" else {
                return Self.json(unauthorized, .unauthorized)
            }
            let current = self.state.withLock { state in
                state.states.count > 1 ? state.states.removeFirst() : state.states[0]
            }
            let error =
                current == "JOB_STATE_FAILED"
                ? #", "error": {"code": 14, "message": "The replica workerpool0-0 was preempted"}"# : ""
            let name =
                "projects/\(context.parameters.get("project") ?? "")/locations/\(context.parameters.get("region") ?? "")/customJobs/\(context.parameters.get("id") ?? "")"
            return Self.json(
                #"{"name": "\#(name)", "displayName": "x", "jobSpec": {"workerPoolSpecs": []}, "state": "\#(current)"\#(error)}"#
            )
        }
        router.post("/v1/projects/:project/locations/:region/customJobs/:id") { request, context -> Response in
            let action = context.parameters.get("id") ?? ""
            guard action.hasSuffix(":cancel") else { return Self.json("{}", .notFound) }
            let name =
                "projects/\(context.parameters.get("project") ?? "")/locations/\(context.parameters.get("region") ?? "")/customJobs/\(action.dropLast(":cancel".count))"
            self.state.withLock { $0.cancelled.append(name) }
            return Self.json("{}")
        }
        return router
    }
}
