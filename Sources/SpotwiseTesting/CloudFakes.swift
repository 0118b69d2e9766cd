import CloudAuth
import Crypto
import CryptoExtras
import Foundation
import Hummingbird
import Provisioners
import Synchronization

// Local stand-ins for the cloud APIs that cannot run here, answering with the documented request
// and response shapes: SageMaker (what moto cannot show), Vertex AI with Google's token endpoint,
// and the Spotwise Modal app's endpoint.

/// A local SageMaker that answers with the API's JSON shapes and plays scripted statuses.
public final class SageMakerFake: Sendable {
    struct State {
        var statuses: [(String, String)]
        var calls: [String] = []
        var authorizations: [String] = []
        var lastRequest: SageMakerAPI.CreateTrainingJob?
        var created: [String] = []
        var throttleFirstCreate = true
        var failure: (code: String, message: String)?
    }

    let state: Mutex<State>

    public init(statuses: [(String, String)]) { state = Mutex(State(statuses: statuses)) }

    public var calls: [String] { state.withLock { $0.calls } }
    public var authorizations: [String] { state.withLock { $0.authorizations } }
    public var lastRequest: SageMakerAPI.CreateTrainingJob? { state.withLock { $0.lastRequest } }
    /// The name of every training job created, in order (a name twice is capacity launched twice).
    public var created: [String] { state.withLock { $0.created } }
    public func failNextCreate(code: String, message: String) { state.withLock { $0.failure = (code, message) } }

    static func error(_ code: String, _ message: String) -> Response {
        Response(
            status: .badRequest, headers: [.contentType: "application/x-amz-json-1.1"],
            body: ResponseBody(
                byteBuffer: ByteBuffer(
                    string: #"{"__type": "com.amazonaws.sagemaker#\#(code)", "message": "\#(message)"}"#)))
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/") { request, _ -> Response in
            let target = request.headers[.init("X-Amz-Target")!] ?? ""
            let action = String(target.split(separator: ".").last ?? "")
            let body = try await request.body.collect(upTo: 1 << 20)
            let authorization = request.headers[.authorization] ?? ""
            let outcome: Response? = self.state.withLock { state in
                state.calls.append(action)
                state.authorizations.append(authorization)
                if action == "CreateTrainingJob" {
                    if state.throttleFirstCreate {
                        state.throttleFirstCreate = false
                        return Self.error("ThrottlingException", "Rate exceeded")
                    }
                    if let failure = state.failure {
                        state.failure = nil
                        return Self.error(failure.code, failure.message)
                    }
                    state.lastRequest = try? SageMakerAPI.decoder.decode(
                        SageMakerAPI.CreateTrainingJob.self, from: Data(buffer: body))
                    if let name = state.lastRequest?.trainingJobName { state.created.append(name) }
                }
                return nil
            }
            if let outcome { return outcome }
            let json: String
            switch action {
            case "CreateTrainingJob":
                json = #"{"TrainingJobArn": "arn:aws:sagemaker:us-west-2:123456789012:training-job/x"}"#
            case "DescribeTrainingJob":
                let (primary, secondary) = self.state.withLock { state in
                    state.statuses.count > 1 ? state.statuses.removeFirst() : state.statuses[0]
                }
                let message = secondary == "Interrupted" ? "spot capacity reclaimed" : "status \(secondary)"
                json = """
                    {"TrainingJobName": "x", "TrainingJobStatus": "\(primary)", "SecondaryStatus": "\(secondary)",
                     "SecondaryStatusTransitions": [{"Status": "\(secondary)", "StartTime": 1796000000.5, "StatusMessage": "\(message)"}],
                     "EnableManagedSpotTraining": true, "BillableTimeInSeconds": 120, "TrainingTimeInSeconds": 400}
                    """
            case "StopTrainingJob": json = "{}"
            default: return Self.error("UnknownOperationException", "unknown action \(action)")
            }
            return Response(
                status: .ok, headers: [.contentType: "application/x-amz-json-1.1"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: json)))
        }
        return router
    }
}

/// A local Vertex AI and Google token endpoint with the documented shapes.
public final class VertexFake: Sendable {
    struct State {
        var states: [String]
        var tokensIssued = 0
        var createCalls = 0
        var lastJob: VertexAPI.CustomJob?
        var cancelled: [String] = []
    }

    let publicKey: _RSA.Signing.PublicKey?
    let state: Mutex<State>

    public init(publicKey: _RSA.Signing.PublicKey?, states: [String]) {
        self.publicKey = publicKey
        state = Mutex(State(states: states))
    }

    public var tokensIssued: Int { state.withLock { $0.tokensIssued } }
    public var createCalls: Int { state.withLock { $0.createCalls } }
    public var lastJob: VertexAPI.CustomJob? { state.withLock { $0.lastJob } }
    public var cancelled: [String] { state.withLock { $0.cancelled } }

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

    public func router() -> Router<BasicRequestContext> {
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
            // Only the job it created exists (Google's error shape for any other).
            guard context.parameters.get("id") == "1234567890" else {
                return Self.json(
                    #"{"error": {"code": 404, "message": "The CustomJob does not exist.", "status": "NOT_FOUND"}}"#,
                    .notFound)
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

/// A local stand-in for the deployed Modal endpoint, with the app's JSON.
public final class ModalFake: Sendable {
    struct State {
        var states: [String]
        var spawns = 0
    }

    let state: Mutex<State>

    public init(states: [String]) { state = Mutex(State(states: states)) }

    public var spawns: Int { state.withLock { $0.spawns } }

    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/api") { request, _ -> Response in
            func json(_ text: String, _ status: HTTPResponse.Status = .ok) -> Response {
                Response(
                    status: status, headers: [.contentType: "application/json"],
                    body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
            }
            guard request.headers[.authorization] == "Bearer app-token" else {
                return json(
                    #"{"error": "unauthorized", "message": "a Bearer token from the spotwise secret is required"}"#,
                    .unauthorized)
            }
            let body = try JSONDecoder().decode(
                ModalAPI.Request.self, from: Data(buffer: try await request.body.collect(upTo: 1 << 20)))
            switch body.action {
            case "spawn":
                let first = self.state.withLock { state -> Bool in
                    state.spawns += 1
                    return state.spawns == 1
                }
                return first ? json("{}", .serviceUnavailable) : json(#"{"call_id": "fc-1"}"#)
            case "status":
                let current = self.state.withLock { $0.states.count > 1 ? $0.states.removeFirst() : $0.states[0] }
                return json(#"{"state": "\#(current)", "detail": "preempted and restarted too often"}"#)
            case "cancel": return json(#"{"state": "cancelled"}"#)
            default:
                return json(
                    #"{"error": "invalid_action", "message": "action is spawn, status or cancel"}"#, .badRequest)
            }
        }
        return router
    }
}
