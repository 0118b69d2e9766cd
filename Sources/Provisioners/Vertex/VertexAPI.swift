import Foundation

/// Vertex AI's `projects.locations.customJobs` shapes (REST v1, camelCase JSON), only the fields
/// Spotwise sets or reads.
public enum VertexAPI {
    public struct CustomJob: Codable, Sendable, Equatable {
        /// `projects/P/locations/L/customJobs/ID`, set by Vertex.
        public var name: String?
        public var displayName: String
        public var jobSpec: JobSpec
        public var labels: [String: String]?
        public var state: String?
        public var error: Status?
        public var startTime: String?
        public var endTime: String?

        public init(displayName: String, jobSpec: JobSpec, labels: [String: String]? = nil) {
            self.displayName = displayName
            self.jobSpec = jobSpec
            self.labels = labels
        }
    }

    public struct JobSpec: Codable, Sendable, Equatable {
        public var workerPoolSpecs: [WorkerPoolSpec]
        public var scheduling: Scheduling?
        public var serviceAccount: String?

        public init(workerPoolSpecs: [WorkerPoolSpec], scheduling: Scheduling?, serviceAccount: String?) {
            self.workerPoolSpecs = workerPoolSpecs
            self.scheduling = scheduling
            self.serviceAccount = serviceAccount
        }
    }

    public struct WorkerPoolSpec: Codable, Sendable, Equatable {
        public var machineSpec: MachineSpec
        /// int64 travels as a JSON string in Google's REST APIs.
        public var replicaCount: String
        public var containerSpec: ContainerSpec

        public init(machineSpec: MachineSpec, replicaCount: String, containerSpec: ContainerSpec) {
            self.machineSpec = machineSpec
            self.replicaCount = replicaCount
            self.containerSpec = containerSpec
        }
    }

    public struct MachineSpec: Codable, Sendable, Equatable {
        public var machineType: String
        public var acceleratorType: String?
        public var acceleratorCount: Int?

        public init(machineType: String, acceleratorType: String?, acceleratorCount: Int?) {
            self.machineType = machineType
            self.acceleratorType = acceleratorType
            self.acceleratorCount = acceleratorCount
        }
    }

    public struct ContainerSpec: Codable, Sendable, Equatable {
        public var imageUri: String
        public var env: [EnvVar]

        public init(imageUri: String, env: [EnvVar]) {
            self.imageUri = imageUri
            self.env = env
        }
    }

    public struct EnvVar: Codable, Sendable, Equatable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public struct Scheduling: Codable, Sendable, Equatable {
        /// `SPOT` or `STANDARD`.
        public var strategy: String
        /// A duration such as `86400s`.
        public var timeout: String?

        public init(strategy: String, timeout: String?) {
            self.strategy = strategy
            self.timeout = timeout
        }
    }

    /// google.rpc.Status.
    public struct Status: Codable, Sendable, Equatable {
        public var code: Int?
        public var message: String?

        public init(code: Int?, message: String?) {
            self.code = code
            self.message = message
        }
    }

    /// Google's error body: `{"error": {"code": 429, "message": "...", "status": "RESOURCE_EXHAUSTED"}}`.
    public struct ErrorBody: Codable, Sendable {
        public struct Detail: Codable, Sendable {
            public var code: Int
            public var message: String
            public var status: String?
        }

        public var error: Detail
    }
}
