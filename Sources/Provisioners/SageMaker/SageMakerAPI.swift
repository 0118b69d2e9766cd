import Foundation

/// The SageMaker API's request and response shapes Spotwise uses (JSON 1.1 protocol, PascalCase
/// keys, as in the API reference). Only the fields Spotwise sets or reads.
public enum SageMakerAPI {
    public struct CreateTrainingJob: Codable, Sendable, Equatable {
        public var trainingJobName: String
        public var roleArn: String
        public var algorithmSpecification: AlgorithmSpecification
        public var resourceConfig: ResourceConfig
        public var outputDataConfig: OutputDataConfig
        public var stoppingCondition: StoppingCondition
        public var enableManagedSpotTraining: Bool
        public var checkpointConfig: CheckpointConfig?
        public var hyperParameters: [String: String]
        public var environment: [String: String]
        public var tags: [Tag]

        public init(
            trainingJobName: String, roleArn: String, algorithmSpecification: AlgorithmSpecification,
            resourceConfig: ResourceConfig, outputDataConfig: OutputDataConfig, stoppingCondition: StoppingCondition,
            enableManagedSpotTraining: Bool, checkpointConfig: CheckpointConfig? = nil,
            hyperParameters: [String: String], environment: [String: String], tags: [Tag]
        ) {
            self.trainingJobName = trainingJobName
            self.roleArn = roleArn
            self.algorithmSpecification = algorithmSpecification
            self.resourceConfig = resourceConfig
            self.outputDataConfig = outputDataConfig
            self.stoppingCondition = stoppingCondition
            self.enableManagedSpotTraining = enableManagedSpotTraining
            self.checkpointConfig = checkpointConfig
            self.hyperParameters = hyperParameters
            self.environment = environment
            self.tags = tags
        }

        enum CodingKeys: String, CodingKey {
            case trainingJobName = "TrainingJobName"
            case roleArn = "RoleArn"
            case algorithmSpecification = "AlgorithmSpecification"
            case resourceConfig = "ResourceConfig"
            case outputDataConfig = "OutputDataConfig"
            case stoppingCondition = "StoppingCondition"
            case enableManagedSpotTraining = "EnableManagedSpotTraining"
            case checkpointConfig = "CheckpointConfig"
            case hyperParameters = "HyperParameters"
            case environment = "Environment"
            case tags = "Tags"
        }
    }

    public struct AlgorithmSpecification: Codable, Sendable, Equatable {
        public var trainingImage: String
        public var trainingInputMode: String

        public init(trainingImage: String, trainingInputMode: String) {
            self.trainingImage = trainingImage
            self.trainingInputMode = trainingInputMode
        }

        enum CodingKeys: String, CodingKey {
            case trainingImage = "TrainingImage"
            case trainingInputMode = "TrainingInputMode"
        }
    }

    public struct ResourceConfig: Codable, Sendable, Equatable {
        public var instanceType: String
        public var instanceCount: Int
        public var volumeSizeInGB: Int

        public init(instanceType: String, instanceCount: Int, volumeSizeInGB: Int) {
            self.instanceType = instanceType
            self.instanceCount = instanceCount
            self.volumeSizeInGB = volumeSizeInGB
        }

        enum CodingKeys: String, CodingKey {
            case instanceType = "InstanceType"
            case instanceCount = "InstanceCount"
            case volumeSizeInGB = "VolumeSizeInGB"
        }
    }

    public struct OutputDataConfig: Codable, Sendable, Equatable {
        public var s3OutputPath: String

        public init(s3OutputPath: String) {
            self.s3OutputPath = s3OutputPath
        }

        enum CodingKeys: String, CodingKey { case s3OutputPath = "S3OutputPath" }
    }

    public struct StoppingCondition: Codable, Sendable, Equatable {
        public var maxRuntimeInSeconds: Int
        /// Managed spot only: waiting for capacity plus running; at least `maxRuntimeInSeconds`.
        public var maxWaitTimeInSeconds: Int?

        public init(maxRuntimeInSeconds: Int, maxWaitTimeInSeconds: Int? = nil) {
            self.maxRuntimeInSeconds = maxRuntimeInSeconds
            self.maxWaitTimeInSeconds = maxWaitTimeInSeconds
        }

        enum CodingKeys: String, CodingKey {
            case maxRuntimeInSeconds = "MaxRuntimeInSeconds"
            case maxWaitTimeInSeconds = "MaxWaitTimeInSeconds"
        }
    }

    public struct CheckpointConfig: Codable, Sendable, Equatable {
        public var s3Uri: String
        public var localPath: String

        public init(s3Uri: String, localPath: String) {
            self.s3Uri = s3Uri
            self.localPath = localPath
        }

        enum CodingKeys: String, CodingKey {
            case s3Uri = "S3Uri"
            case localPath = "LocalPath"
        }
    }

    public struct Tag: Codable, Sendable, Equatable {
        public var key: String
        public var value: String

        public init(key: String, value: String) {
            self.key = key
            self.value = value
        }

        enum CodingKeys: String, CodingKey {
            case key = "Key"
            case value = "Value"
        }
    }

    public struct CreateTrainingJobResponse: Codable, Sendable {
        public var trainingJobArn: String

        public init(trainingJobArn: String) {
            self.trainingJobArn = trainingJobArn
        }

        enum CodingKeys: String, CodingKey { case trainingJobArn = "TrainingJobArn" }
    }

    public struct TrainingJobNameRequest: Codable, Sendable {
        public var trainingJobName: String

        public init(trainingJobName: String) {
            self.trainingJobName = trainingJobName
        }

        enum CodingKeys: String, CodingKey { case trainingJobName = "TrainingJobName" }
    }

    public struct StatusTransition: Codable, Sendable, Equatable {
        public var status: String
        public var startTime: Date?
        public var endTime: Date?
        public var statusMessage: String?

        public init(status: String, startTime: Date? = nil, endTime: Date? = nil, statusMessage: String? = nil) {
            self.status = status
            self.startTime = startTime
            self.endTime = endTime
            self.statusMessage = statusMessage
        }

        enum CodingKeys: String, CodingKey {
            case status = "Status"
            case startTime = "StartTime"
            case endTime = "EndTime"
            case statusMessage = "StatusMessage"
        }
    }

    public struct DescribeTrainingJobResponse: Codable, Sendable, Equatable {
        public var trainingJobName: String
        public var trainingJobStatus: String
        public var secondaryStatus: String
        public var secondaryStatusTransitions: [StatusTransition]?
        public var failureReason: String?
        public var billableTimeInSeconds: Int?
        public var trainingTimeInSeconds: Int?
        public var enableManagedSpotTraining: Bool?
        public var resourceConfig: ResourceConfig?

        public init(
            trainingJobName: String, trainingJobStatus: String, secondaryStatus: String,
            secondaryStatusTransitions: [StatusTransition]? = nil, failureReason: String? = nil,
            billableTimeInSeconds: Int? = nil, trainingTimeInSeconds: Int? = nil,
            enableManagedSpotTraining: Bool? = nil, resourceConfig: ResourceConfig? = nil
        ) {
            self.trainingJobName = trainingJobName
            self.trainingJobStatus = trainingJobStatus
            self.secondaryStatus = secondaryStatus
            self.secondaryStatusTransitions = secondaryStatusTransitions
            self.failureReason = failureReason
            self.billableTimeInSeconds = billableTimeInSeconds
            self.trainingTimeInSeconds = trainingTimeInSeconds
            self.enableManagedSpotTraining = enableManagedSpotTraining
            self.resourceConfig = resourceConfig
        }

        enum CodingKeys: String, CodingKey {
            case trainingJobName = "TrainingJobName"
            case trainingJobStatus = "TrainingJobStatus"
            case secondaryStatus = "SecondaryStatus"
            case secondaryStatusTransitions = "SecondaryStatusTransitions"
            case failureReason = "FailureReason"
            case billableTimeInSeconds = "BillableTimeInSeconds"
            case trainingTimeInSeconds = "TrainingTimeInSeconds"
            case enableManagedSpotTraining = "EnableManagedSpotTraining"
            case resourceConfig = "ResourceConfig"
        }
    }

    public struct ListTrainingJobsRequest: Codable, Sendable {
        public var nameContains: String?
        public var maxResults: Int?
        public var nextToken: String?

        public init(nameContains: String? = nil, maxResults: Int? = nil, nextToken: String? = nil) {
            self.nameContains = nameContains
            self.maxResults = maxResults
            self.nextToken = nextToken
        }

        enum CodingKeys: String, CodingKey {
            case nameContains = "NameContains"
            case maxResults = "MaxResults"
            case nextToken = "NextToken"
        }
    }

    public struct ListTrainingJobsResponse: Codable, Sendable {
        public struct Summary: Codable, Sendable, Equatable {
            public var trainingJobName: String
            public var trainingJobStatus: String

            enum CodingKeys: String, CodingKey {
                case trainingJobName = "TrainingJobName"
                case trainingJobStatus = "TrainingJobStatus"
            }
        }

        public var trainingJobSummaries: [Summary]
        public var nextToken: String?

        enum CodingKeys: String, CodingKey {
            case trainingJobSummaries = "TrainingJobSummaries"
            case nextToken = "NextToken"
        }
    }

    /// SageMaker's JSON times are seconds since 1970 as numbers.
    public static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        return decoder
    }()

    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.dateEncodingStrategy = .secondsSince1970
        return encoder
    }()
}
