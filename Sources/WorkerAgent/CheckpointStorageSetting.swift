import Checkpoints
import CloudAuth
import Foundation
import SpotwiseCore

/// The job's `checkpoint.storage` as this node reads it: a directory (`file://`, relative to the
/// job root or absolute) or an S3 prefix (`s3://BUCKET/PREFIX`).
enum CheckpointStorageSetting {
    /// A `checkpoint.storage` this node cannot use: names the value and what is allowed.
    struct ConfigurationError: Error, CustomStringConvertible, Equatable {
        var value: String
        var problem: String

        var description: String {
            "checkpoint.storage '\(value)' \(problem); allowed: file://PATH (a directory under the job root, or absolute) or s3://BUCKET/PREFIX"
        }
    }

    static func store(for storage: String, configuration: WorkerAgentConfiguration) throws -> any CheckpointStore {
        if storage.hasPrefix("s3://") {
            let credentials = configuration.awsCredentials
            do {
                return try S3CheckpointStore.parse(
                    storage, region: configuration.awsRegion, endpoint: configuration.s3Endpoint,
                    credentials: { try await credentials.current() })
            } catch {
                throw ConfigurationError(value: storage, problem: "is not a usable S3 location (\(error))")
            }
        }
        guard storage.hasPrefix("file://") else {
            throw ConfigurationError(value: storage, problem: "has a scheme this agent does not know")
        }
        let path = String(storage.dropFirst("file://".count))
        guard !path.isEmpty else { throw ConfigurationError(value: storage, problem: "names no directory") }
        let root = path.hasPrefix("/") ? URL(fileURLWithPath: path) : configuration.jobRoot.appendingPathComponent(path)
        // The spec's rule again where the path resolves here: a symlink must not lead it elsewhere.
        let resolve = LocalCheckpointStore.resolvedPath(of:)
        if let problem = LocalPathRule.problem(
            declared: path, resolved: resolve(root), resolvedJobRoot: resolve(configuration.jobRoot))
        {
            throw ConfigurationError(value: storage, problem: "is refused: \(problem)")
        }
        return LocalCheckpointStore(root: root)
    }
}
