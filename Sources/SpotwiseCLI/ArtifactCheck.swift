import Checkpoints
import CloudAuth
import Foundation
import SpotwiseCore

/// Verifies a model version's artifact where this machine can read its store.
enum ArtifactCheck {
    struct Outcome {
        var verified: Bool
        /// Whether the store was readable at all (a cloud store from a laptop may not be).
        var reachable: Bool
        var text: String
    }

    static func verify(_ artifact: ModelArtifact, root: URL) async -> Outcome {
        guard artifact.storage.hasPrefix("file://") else {
            return Outcome(
                verified: false, reachable: false, text: "not verified: \(artifact.storage) is not a local store")
        }
        let path = String(artifact.storage.dropFirst("file://".count))
        let directory = path.hasPrefix("/") ? URL(fileURLWithPath: path) : root.appendingPathComponent(path)
        // The job spec's rule for storage paths, where they resolve here (a registry written by
        // an older spotwise may hold any path).
        let resolve = LocalCheckpointStore.resolvedPath(of:)
        if let problem = LocalPathRule.problem(
            declared: path, resolved: resolve(directory), resolvedJobRoot: resolve(root))
        {
            return Outcome(
                verified: false, reachable: true,
                text: "VERIFICATION FAILED: \(artifact.storage) is refused: \(problem)")
        }
        guard FileManager.default.fileExists(atPath: directory.path) else {
            return Outcome(
                verified: false, reachable: false, text: "not verified: no checkpoint store at \(directory.path) here")
        }
        do {
            let manifest = try await LocalCheckpointStore(root: directory).verify(
                location: artifact.location, manifestDigest: artifact.manifestDigest)
            return Outcome(
                verified: true, reachable: true,
                text: "verified: \(manifest.files.count) file(s), every SHA-256 and the manifest's digest match")
        } catch {
            return Outcome(verified: false, reachable: true, text: "VERIFICATION FAILED: \(error)")
        }
    }
}
