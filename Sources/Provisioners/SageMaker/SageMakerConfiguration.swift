import Foundation
import SpotwiseCore
import Yams

/// `provisioners/sagemaker.yaml`: where and how attempts run as SageMaker training jobs.
public struct SageMakerConfiguration: Sendable, Equatable {
    public struct InstanceType: Sendable, Equatable {
        public var name: String
        /// What the instance costs on demand per hour (SageMaker's price list; spot is billed
        /// through BillableTimeInSeconds, so no spot price is configured).
        public var onDemandPricePerHour: Money
        /// The expected spot discount, for the policy's estimates (e.g. 0.7 for 70% off).
        public var expectedSpotDiscount: Double
    }

    public var region: String
    public var roleARN: String
    public var image: String
    public var outputPath: String
    public var instanceTypes: [InstanceType]
    public var volumeGB: Int
    public var maxRuntimeSeconds: Int
    public var defaultWaitSeconds: Int
    /// An endpoint override (a local server); AWS's when nil.
    public var endpoint: URL?

    public struct Invalid: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    public static func parse(_ yaml: String, file: String = "provisioners/sagemaker.yaml") throws
        -> SageMakerConfiguration
    {
        func fail(_ field: String, _ what: String) -> Invalid { Invalid(description: "\(file): \(field): \(what)") }
        guard let root = try Yams.load(yaml: yaml) as? [String: Any] else { throw fail("(top)", "expected a mapping") }
        let known: Set<String> = [
            "region", "role_arn", "image", "output_path", "instance_types", "volume_gb", "max_runtime_hours",
            "default_wait_hours", "endpoint",
        ]
        if let unknown = root.keys.filter({ !known.contains($0) }).sorted().first {
            throw fail(unknown, "unknown field; allowed: \(known.sorted().joined(separator: ", "))")
        }
        func required(_ key: String) throws -> String {
            guard let value = root[key] as? String, !value.isEmpty else { throw fail(key, "required text") }
            return value
        }
        let region = try required("region")
        guard region.range(of: "^[a-z]{2}(-[a-z]+)+-[0-9]$", options: .regularExpression) != nil else {
            throw fail("region", "'\(region)' is not an AWS region like us-east-1")
        }
        let role = try required("role_arn")
        guard role.hasPrefix("arn:aws:iam::"), role.contains(":role/") else {
            throw fail("role_arn", "'\(role)' is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)")
        }
        let output = try required("output_path")
        guard output.hasPrefix("s3://") else { throw fail("output_path", "must be s3://BUCKET/PREFIX") }
        guard let types = root["instance_types"] as? [[String: Any]], !types.isEmpty else {
            throw fail("instance_types", "a list of {name, on_demand_price_per_hour, expected_spot_discount}")
        }
        let instanceTypes = try types.enumerated().map { index, entry -> InstanceType in
            let at = "instance_types[\(index)]"
            guard let name = entry["name"] as? String, name.hasPrefix("ml.") else {
                throw fail("\(at).name", "a SageMaker instance type like ml.g5.xlarge")
            }
            guard let priceText = entry["on_demand_price_per_hour"] as? String,
                let price = Money(decimalDollars: priceText), price.micros > 0
            else { throw fail("\(at).on_demand_price_per_hour", "dollars as a quoted decimal string, e.g. \"1.408\"") }
            let discount = (entry["expected_spot_discount"] as? Double) ?? 0.7
            guard (0..<1).contains(discount) else { throw fail("\(at).expected_spot_discount", "from 0 to below 1") }
            return InstanceType(name: name, onDemandPricePerHour: price, expectedSpotDiscount: discount)
        }
        func hours(_ key: String, _ fallback: Double) throws -> Int {
            let value = (root[key] as? Double) ?? (root[key] as? Int).map(Double.init) ?? fallback
            guard value > 0, value <= 672 else { throw fail(key, "hours from above 0 to 672 (28 days)") }
            return Int(value * 3_600)
        }
        var endpoint: URL?
        if let text = root["endpoint"] as? String {
            guard let url = URL(string: text), url.scheme == "http" || url.scheme == "https" else {
                throw fail("endpoint", "an http(s) URL")
            }
            endpoint = url
        }
        let volume = (root["volume_gb"] as? Int) ?? 50
        guard (1...16_384).contains(volume) else { throw fail("volume_gb", "1 to 16384") }
        return SageMakerConfiguration(
            region: region, roleARN: role, image: try required("image"), outputPath: output,
            instanceTypes: instanceTypes,
            volumeGB: volume, maxRuntimeSeconds: try hours("max_runtime_hours", 72),
            defaultWaitSeconds: try hours("default_wait_hours", 96), endpoint: endpoint)
    }
}
