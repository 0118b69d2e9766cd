import CloudAuth
import Foundation

/// SageMaker's training-job calls over the shared SigV4 sender (`X-Amz-Target: SageMaker.ACTION`).
/// Throttling and 5xx are retried by the sender; everything else comes back as a classified `AWSError`.
public struct SageMakerClient: Sendable {
    let sender: AWSRequestSender

    public init(sender: AWSRequestSender) {
        self.sender = sender
    }

    /// The client for `region`, at AWS's endpoint or `endpoint` (moto, a fake).
    public init(
        region: String, endpoint: URL?, credentials: @escaping @Sendable () async throws -> AWSCredentials,
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.init(
            sender: AWSRequestSender(
                endpoint: endpoint ?? URL(string: "https://api.sagemaker.\(region).amazonaws.com")!, region: region,
                service: "sagemaker", credentials: credentials, sleep: sleep))
    }

    func call<Request: Encodable, Response: Decodable>(_ action: String, _ request: Request, as: Response.Type)
        async throws -> Response
    {
        let response = try await sender.send(
            "POST", "/",
            headers: [("content-type", "application/x-amz-json-1.1"), ("x-amz-target", "SageMaker.\(action)")],
            body: try SageMakerAPI.encoder.encode(request))
        return try SageMakerAPI.decoder.decode(
            Response.self, from: response.body.isEmpty ? Data("{}".utf8) : response.body)
    }

    public func createTrainingJob(_ request: SageMakerAPI.CreateTrainingJob) async throws -> String {
        try await call("CreateTrainingJob", request, as: SageMakerAPI.CreateTrainingJobResponse.self).trainingJobArn
    }

    public func describeTrainingJob(_ name: String) async throws -> SageMakerAPI.DescribeTrainingJobResponse {
        try await call(
            "DescribeTrainingJob", SageMakerAPI.TrainingJobNameRequest(trainingJobName: name),
            as: SageMakerAPI.DescribeTrainingJobResponse.self)
    }

    public func stopTrainingJob(_ name: String) async throws {
        struct Empty: Decodable {}
        _ = try await call(
            "StopTrainingJob", SageMakerAPI.TrainingJobNameRequest(trainingJobName: name), as: Empty.self)
    }

    public func listTrainingJobs(nameContains: String?) async throws -> [SageMakerAPI.ListTrainingJobsResponse.Summary]
    {
        var summaries: [SageMakerAPI.ListTrainingJobsResponse.Summary] = []
        var token: String?
        repeat {
            let page = try await call(
                "ListTrainingJobs",
                SageMakerAPI.ListTrainingJobsRequest(nameContains: nameContains, maxResults: 100, nextToken: token),
                as: SageMakerAPI.ListTrainingJobsResponse.self)
            summaries += page.trainingJobSummaries
            token = page.nextToken
        } while token != nil
        return summaries
    }
}
