import Foundation
import SpotwiseCore
import Yams

/// `provisioners/vertex.yaml`: where and how attempts run as Vertex AI custom jobs.
public struct VertexConfiguration: Sendable, Equatable {
    public struct MachineType: Sendable, Equatable {
        /// The name jobs and pools use, e.g. `t4-8` (a machine type and its accelerators).
        public var name: String
        public var machineType: String
        public var acceleratorType: String?
        public var acceleratorCount: Int?
        public var spotPricePerHour: Money
        public var onDemandPricePerHour: Money
    }

    public var project: String
    public var region: String
    public var image: String
    public var serviceAccount: String?
    /// A service-account key file; nil: the metadata server's token (on Google's machines).
    public var keyFile: String?
    public var machineTypes: [MachineType]
    public var endpoint: URL?

    public struct Invalid: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    public static func parse(_ yaml: String, file: String = "provisioners/vertex.yaml") throws -> VertexConfiguration {
        func fail(_ field: String, _ what: String) -> Invalid { Invalid(description: "\(file): \(field): \(what)") }
        guard let root = try Yams.load(yaml: yaml) as? [String: Any] else { throw fail("(top)", "expected a mapping") }
        let known: Set<String> = [
            "project", "region", "image", "service_account", "key_file", "machine_types", "endpoint",
        ]
        if let unknown = root.keys.filter({ !known.contains($0) }).sorted().first {
            throw fail(unknown, "unknown field; allowed: \(known.sorted().joined(separator: ", "))")
        }
        func required(_ key: String) throws -> String {
            guard let value = root[key] as? String, !value.isEmpty else { throw fail(key, "required text") }
            return value
        }
        let project = try required("project")
        guard project.range(of: "^[a-z][a-z0-9-]{4,28}[a-z0-9]$", options: .regularExpression) != nil else {
            throw fail("project", "'\(project)' is not a Google Cloud project id")
        }
        let region = try required("region")
        guard region.range(of: "^[a-z]+-[a-z]+[0-9]$", options: .regularExpression) != nil else {
            throw fail("region", "'\(region)' is not a region like us-central1")
        }
        guard let types = root["machine_types"] as? [[String: Any]], !types.isEmpty else {
            throw fail(
                "machine_types",
                "a list of {name, machine_type, accelerator_type, accelerator_count, spot_price_per_hour, on_demand_price_per_hour}"
            )
        }
        let machineTypes = try types.enumerated().map { index, entry -> MachineType in
            let at = "machine_types[\(index)]"
            guard let name = entry["name"] as? String, let machine = entry["machine_type"] as? String else {
                throw fail("\(at)", "needs name and machine_type")
            }
            func price(_ key: String) throws -> Money {
                guard let text = entry[key] as? String, let money = Money(decimalDollars: text), money.micros > 0 else {
                    throw fail("\(at).\(key)", "dollars as a quoted decimal string, e.g. \"0.35\"")
                }
                return money
            }
            return MachineType(
                name: name, machineType: machine, acceleratorType: entry["accelerator_type"] as? String,
                acceleratorCount: entry["accelerator_count"] as? Int,
                spotPricePerHour: try price("spot_price_per_hour"),
                onDemandPricePerHour: try price("on_demand_price_per_hour"))
        }
        return VertexConfiguration(
            project: project, region: region, image: try required("image"),
            serviceAccount: root["service_account"] as? String, keyFile: root["key_file"] as? String,
            machineTypes: machineTypes, endpoint: (root["endpoint"] as? String).flatMap(URL.init(string:)))
    }
}

/// Pure decisions for Vertex AI: the custom job for an attempt and what its state means.
public enum VertexCustomJobs {
    public static func request(
        job: String, attempt: Int, spec: JobSpec, market: Market, machine: VertexConfiguration.MachineType,
        configuration: VertexConfiguration, coordinatorURL: String, bootstrapToken: String, deadline: Date?, now: Date
    ) -> VertexAPI.CustomJob {
        let price = market == .spot ? machine.spotPricePerHour : machine.onDemandPricePerHour
        let environment: [(String, String)] = [
            ("SPOTWISE_COORDINATOR_URL", coordinatorURL), ("SPOTWISE_BOOTSTRAP_TOKEN", bootstrapToken),
            ("SPOTWISE_WORKER_NAME", "\(job)-a\(attempt)"), ("SPOTWISE_PROVIDER", "vertex"),
            ("SPOTWISE_REGION", configuration.region), ("SPOTWISE_MARKET", market.rawValue),
            ("SPOTWISE_INSTANCE_TYPE", machine.name), ("SPOTWISE_PRICE", price.exactDescription),
            ("SPOTWISE_ON_DEMAND_PRICE", machine.onDemandPricePerHour.exactDescription),
        ]
        let timeout = deadline.map { "\(max(60, Int($0.timeIntervalSince(now))))s" }
        return VertexAPI.CustomJob(
            displayName: "\(job)-a\(attempt)",
            jobSpec: VertexAPI.JobSpec(
                workerPoolSpecs: [
                    VertexAPI.WorkerPoolSpec(
                        machineSpec: VertexAPI.MachineSpec(
                            machineType: machine.machineType, acceleratorType: machine.acceleratorType,
                            acceleratorCount: machine.acceleratorCount),
                        replicaCount: String(spec.resources.nodes.minimum),
                        containerSpec: VertexAPI.ContainerSpec(
                            imageUri: configuration.image,
                            env: environment.map { VertexAPI.EnvVar(name: $0.0, value: $0.1) }))
                ],
                scheduling: VertexAPI.Scheduling(strategy: market == .spot ? "SPOT" : "STANDARD", timeout: timeout),
                serviceAccount: configuration.serviceAccount),
            labels: ["spotwise-job": job.lowercased(), "spotwise-attempt": String(attempt)])
    }

    public enum Observation: Hashable, Sendable {
        case provisioning(String)
        case running
        case succeeded
        case cancelled
        /// Spot capacity was taken back (or none was there: STOCKOUT).
        case preempted(String)
        case failed(String)
    }

    public static func observe(_ job: VertexAPI.CustomJob) -> Observation {
        let message = job.error?.message ?? ""
        switch job.state ?? "JOB_STATE_UNSPECIFIED" {
        case "JOB_STATE_RUNNING": return .running
        case "JOB_STATE_SUCCEEDED": return .succeeded
        case "JOB_STATE_CANCELLED", "JOB_STATE_CANCELLING": return .cancelled
        case "JOB_STATE_FAILED", "JOB_STATE_EXPIRED":
            let lowered = message.lowercased()
            if lowered.contains("preempt") || lowered.contains("stockout") || lowered.contains("spot") {
                return .preempted(message)
            }
            return .failed(message.isEmpty ? job.state ?? "failed" : message)
        case let other: return .provisioning(other)
        }
    }
}
