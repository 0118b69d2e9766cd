import Coordinator
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SpotwiseCore
import StateStore
import Testing

/// MLflow's REST routes over a job that was interrupted, resumed and registered, on the lifecycle
/// suite's harness. The real `MlflowClient` against a live coordinator is scripts/mlflow-client.
extension AttemptLifecycleTests {
    /// A registered job: 15 steps in attempt 1 (committed at 10, preempted), 11-20 in attempt 2.
    func registeredJob(_ client: some TestClientProtocol) async throws -> (job: String, worker: WorkerID, token: String)
    {
        let (worker, token) = try await register(client)
        let id = try await submit(client, spec: Self.registeredSpec)
        try await scheduler.scheduleOnce()
        let first = try #require(try await assignment(client, worker, token))
        _ = try await post(
            client, "/v1/jobs/\(id)/attempts/1/metrics", token: token,
            Self.metrics(epoch: first.epoch, resumed: 0, steps: 1...15, loss: 1))
        let commit =
            #"{"epoch": \#(first.epoch), "step": 10, "location": "x/step-10", "manifest_digest": "\#(Self.digest)"}"#
        _ = try await post(client, "/v1/jobs/\(id)/attempts/1/checkpoints", token: token, commit)
        _ = try await post(
            client, "/v1/jobs/\(id)/attempts/1/finish", token: token,
            #"{"epoch": \#(first.epoch), "outcome": "preempted", "notice": true, "last_step": 15}"#)
        clock.advance(milliseconds: 500)
        try await scheduler.scheduleOnce()
        let second = try #require(try await assignment(client, worker, token))
        _ = try await post(
            client, "/v1/jobs/\(id)/attempts/2/metrics", token: token,
            Self.metrics(epoch: second.epoch, resumed: 10, steps: 11...20, loss: 0.5))
        let done = try await post(
            client, "/v1/jobs/\(id)/attempts/2/finish", token: token,
            #"{"epoch": \#(second.epoch), "outcome": "completed", "metrics": {"auc": 0.97}, "last_step": 20, "artifact": \#(Self.artifact)}"#
        )
        #expect(done.status == .ok)
        return (id, worker, token)
    }

    func mlflow(
        _ client: some TestClientProtocol, _ path: String, method: HTTPRequest.Method = .get,
        token: String? = Self.reader, body: String? = nil
    ) async throws -> (status: HTTPResponse.Status, json: [String: Any]) {
        var headers: HTTPFields = token.map { Self.bearer($0) } ?? [:]
        headers[.contentType] = "application/json"
        let response = try await client.execute(
            uri: "/api/2.0/mlflow/" + path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        let json = (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] ?? [:]
        return (response.status, json)
    }

    @Test func mlflowReadsModelsVersionsRunsAndTheHistoryAfterTheResume() async throws {
        try await app().test(.router) { client in
            let (id, _, _) = try await registeredJob(client)

            let model = try await mlflow(client, "registered-models/get?name=digits-classifier")
            #expect(model.status == .ok)
            let registered = try #require(model.json["registered_model"] as? [String: Any])
            let latest = try #require((registered["latest_versions"] as? [[String: Any]])?.first)
            #expect(latest["version"] as? String == "1" && latest["run_id"] as? String == id)
            #expect(latest["status"] as? String == "READY" && latest["current_stage"] as? String == "None")
            #expect(latest["source"] as? String == "file://checkpoints/j/model-attempt-2")

            let version = try await mlflow(client, "model-versions/get?name=digits-classifier&version=1")
            #expect((version.json["model_version"] as? [String: Any])?["run_id"] as? String == id)
            let uri = try await mlflow(client, "model-versions/get-download-uri?name=digits-classifier&version=1")
            #expect(uri.json["artifact_uri"] as? String == "file://checkpoints/j/model-attempt-2")

            let byRun = try await mlflow(client, "model-versions/search?filter=run_id%3D%27\(id)%27")
            #expect((byRun.json["model_versions"] as? [[String: Any]])?.count == 1)
            let none = try await mlflow(client, "model-versions/search?filter=run_id%3D%27job-other%27")
            #expect((none.json["model_versions"] as? [[String: Any]])?.isEmpty ?? true && none.status == .ok)
            let like = try await mlflow(client, "registered-models/search?filter=name%20LIKE%20%27digits%25%27")
            #expect((like.json["registered_models"] as? [[String: Any]])?.count == 1)
            let unlike = try await mlflow(client, "registered-models/search?filter=name%20LIKE%20%27x%25%27")
            #expect((unlike.json["registered_models"] as? [[String: Any]])?.isEmpty ?? true)

            let run = try await mlflow(client, "runs/get?run_id=\(id)")
            let info = try #require((run.json["run"] as? [String: Any])?["info"] as? [String: Any])
            #expect(info["status"] as? String == "FINISHED" && info["run_name"] as? String == "digits")
            let data = try #require((run.json["run"] as? [String: Any])?["data"] as? [String: Any])
            let metrics = try #require(data["metrics"] as? [[String: Any]])
            #expect(metrics.first { $0["key"] as? String == "auc" }?["value"] as? Double == 0.97)
            #expect(metrics.first { $0["key"] as? String == "loss" }?["step"] as? Int == 20)
            let tags = try #require(data["tags"] as? [[String: String]])
            #expect(tags.contains(["key": "team", "value": "vision"]))
            #expect(tags.contains(["key": "spotwise.interruptions", "value": "1"]))

            // The series the model saw: steps 1-20 once each; 11-15 from the second attempt.
            let history = try await mlflow(client, "metrics/get-history?run_id=\(id)&metric_key=loss")
            let points = try #require(history.json["metrics"] as? [[String: Any]])
            #expect(points.compactMap { $0["step"] as? Int } == Array(1...20))
            #expect(
                points.compactMap { $0["value"] as? Double } == Array(repeating: 1, count: 10)
                    + Array(repeating: 0.5, count: 10))
            // Paged by 7: three pages, the same points.
            var paged: [Int] = []
            var token = ""
            for _ in 0..<4 {
                let page = try await mlflow(
                    client, "metrics/get-history?run_id=\(id)&metric_key=loss&max_results=7&page_token=\(token)")
                paged += (page.json["metrics"] as? [[String: Any]] ?? []).compactMap { $0["step"] as? Int }
                guard let next = page.json["next_page_token"] as? String else { break }
                token = next.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? next
            }
            #expect(paged == Array(1...20))
        }
    }

    @Test func mlflowAliasesAreAdminWritesRecordedInTheHistory() async throws {
        try await app().test(.router) { client in
            _ = try await registeredJob(client)
            let set = #"{"name": "digits-classifier", "alias": "champion", "version": "1"}"#
            let refused = try await mlflow(client, "registered-models/alias", method: .post, body: set)
            #expect(refused.status == .forbidden && refused.json["error_code"] as? String == "PERMISSION_DENIED")
            #expect(
                try await mlflow(client, "registered-models/alias", method: .post, token: Self.admin, body: set).status
                    == .ok)

            let byAlias = try await mlflow(client, "registered-models/alias?name=digits-classifier&alias=champion")
            let version = try #require(byAlias.json["model_version"] as? [String: Any])
            #expect(version["version"] as? String == "1" && version["aliases"] as? [String] == ["champion"])
            let model = try await mlflow(client, "registered-models/get?name=digits-classifier")
            let aliases = (model.json["registered_model"] as? [String: Any])?["aliases"] as? [[String: String]]
            #expect(aliases == [["alias": "champion", "version": "1"]])

            let remove = #"{"name": "digits-classifier", "alias": "champion"}"#
            #expect(
                try await mlflow(client, "registered-models/alias", method: .delete, body: remove).status == .forbidden)
            #expect(
                try await mlflow(client, "registered-models/alias", method: .delete, token: Self.admin, body: remove)
                    .status == .ok)
            let gone = try await mlflow(client, "registered-models/alias?name=digits-classifier&alias=champion")
            #expect(gone.status == .notFound && gone.json["error_code"] as? String == "RESOURCE_DOES_NOT_EXIST")
            // Deleting it again is nothing to delete, as in MLflow; an unknown model is 404.
            let again = try await mlflow(
                client, "registered-models/alias", method: .delete, token: Self.admin, body: remove)
            #expect(again.status == .ok)
            let unknown = try await mlflow(
                client, "registered-models/alias", method: .delete, token: Self.admin,
                body: #"{"name": "nothing", "alias": "champion"}"#)
            #expect(unknown.status == .notFound)
            // The alias history keeps both moves; promoting again starts afresh.
            let moves = try await store.aliasHistory(model: "digits-classifier")
            #expect(moves.map(\.kind) == [.promote, .remove] && moves.last?.pointsAt == nil)
            #expect(
                try await mlflow(client, "registered-models/alias", method: .post, token: Self.admin, body: set).status
                    == .ok)
            #expect(try await store.aliasHistory(model: "digits-classifier").last?.from == nil)
        }
    }

    @Test func mlflowErrorsTakeMLflowsShape() async throws {
        try await app().test(.router) { client in
            let (id, worker, token) = try await registeredJob(client)
            func code(_ answer: (status: HTTPResponse.Status, json: [String: Any])) -> String? {
                answer.json["error_code"] as? String
            }
            #expect(code(try await mlflow(client, "registered-models/get?name=nothing")) == "RESOURCE_DOES_NOT_EXIST")
            #expect(code(try await mlflow(client, "registered-models/get")) == "INVALID_PARAMETER_VALUE")
            #expect(code(try await mlflow(client, "registered-models/get?name=..%2Fx")) == "INVALID_PARAMETER_VALUE")
            #expect(
                code(try await mlflow(client, "model-versions/get?name=digits-classifier&version=9"))
                    == "RESOURCE_DOES_NOT_EXIST")
            #expect(
                code(try await mlflow(client, "model-versions/get?name=digits-classifier&version=-1"))
                    == "INVALID_PARAMETER_VALUE")
            #expect(code(try await mlflow(client, "runs/get?run_id=job-none")) == "RESOURCE_DOES_NOT_EXIST")
            let badFilter = try await mlflow(client, "model-versions/search?filter=team%3D%27y%27")
            #expect(code(badFilter) == "INVALID_PARAMETER_VALUE")
            #expect((badFilter.json["message"] as? String)?.contains("'name', 'run_id', tag.NAME") == true)
            #expect(
                code(try await mlflow(client, "model-versions/search?page_token=forged")) == "INVALID_PARAMETER_VALUE")
            #expect(code(try await mlflow(client, "model-versions/search?max_results=0")) == "INVALID_PARAMETER_VALUE")
            #expect(code(try await mlflow(client, "model-versions/search?order_by=size")) == "INVALID_PARAMETER_VALUE")
            for version in ["%2B1", "01", "1.0"] {
                let answer = try await mlflow(client, "model-versions/get?name=digits-classifier&version=\(version)")
                #expect(code(answer) == "INVALID_PARAMETER_VALUE", "version=\(version)")
            }
            #expect(code(try await mlflow(client, "runs/get?run_id=\(id)", token: nil)) == "UNAUTHENTICATED")
            #expect(code(try await mlflow(client, "runs/get?run_id=\(id)", token: token)) == "PERMISSION_DENIED")
            #expect(
                code(try await mlflow(client, "runs/get?run_id=\(id)", token: "\(worker).wrong")) == "UNAUTHENTICATED")
            #expect(code(try await mlflow(client, "experiments/search")) == "ENDPOINT_NOT_FOUND")
            let create = try await mlflow(
                client, "model-versions/create", method: .post, token: Self.admin,
                body: #"{"name": "digits-classifier", "source": "s3://x"}"#)
            #expect(code(create) == "PERMISSION_DENIED")
            #expect((create.json["message"] as? String)?.contains("quality gate") == true)
            let malformed = try await mlflow(
                client, "registered-models/alias", method: .post, token: Self.admin,
                body: #"{"name": "digits-classifier"}"#)
            #expect(code(malformed) == "INVALID_PARAMETER_VALUE")
            #expect((malformed.json["message"] as? String)?.contains("'alias'") == true)
            // The native API keeps its own shape.
            let native = try await client.execute(
                uri: "/v1/models/nothing", method: .get, headers: Self.bearer(Self.reader))
            #expect(String(buffer: native.body).contains(#""error""#))
        }
    }
}
