import Foundation

/// Where committed checkpoints live: the local filesystem (`LocalCheckpointStore`), S3 later.
/// Every implementation commits with the manifest written last and restores only what verifies.
public protocol CheckpointStore: Sendable {
    /// Copies every regular file under `directory` into checkpoint `step` of `job`, hashing as it
    /// goes, then writes the manifest last by atomic rename. Committing a step that is already
    /// committed returns it unchanged. Refused with a `CheckpointError`: a step outside
    /// `LocalCheckpointStore.validSteps`, a missing directory or one without a file, a symlink,
    /// device or hard-linked file in it.
    func commit(job: String, attempt: Int, step: Int, from directory: URL) async throws -> CommittedCheckpointRef

    /// Restores the newest committed checkpoint at or below `atMost` (any when nil) into
    /// `directory`, verifying every file's size and SHA-256. A corrupt checkpoint is skipped for
    /// the previous committed one; what was skipped and why comes back with the result.
    func restore(job: String, atMost: Int?, into directory: URL) async throws -> RestoreResult

    /// Committed steps of `job`, oldest first.
    func committedSteps(job: String) async throws -> [Int]

    /// Keeps the newest `keepLast` committed checkpoints and removes uncommitted directories (but
    /// not one above the newest committed step that holds a gang's parts: it may be committing).
    func collectGarbage(job: String, keepLast: Int) async throws -> GarbageCollection

    /// Writes one rank's shard of gang checkpoint `step`: its files under `rank-R/`, then its part
    /// file. Nothing is committed until `commitGang`; a step already committed is left alone.
    func commitShard(job: String, attempt: Int, step: Int, rank: Int, from directory: URL) async throws

    /// Commits gang checkpoint `step` when every rank below `worldSize` wrote its part: one
    /// manifest listing every rank's files, written last. Nil while a part is missing (try again);
    /// an already committed step is returned as it is.
    func commitGang(job: String, attempt: Int, step: Int, worldSize: Int) async throws -> CommittedCheckpointRef?

    /// Commits a finished attempt's output directory (the model) by the same rule as a checkpoint:
    /// files hashed, manifest last. Retention never touches it.
    func commitArtifact(job: String, attempt: Int, from directory: URL) async throws -> CommittedCheckpointRef

    /// Checks a committed checkpoint or artifact in place: the manifest's SHA-256 must be
    /// `manifestDigest` and every file it lists must have its size and hash.
    func verify(location: String, manifestDigest: String) async throws -> CheckpointManifest
}

/// A committed checkpoint: where it is and the SHA-256 of its manifest (what the coordinator records).
public struct CommittedCheckpointRef: Hashable, Sendable {
    public var step: Int
    public var location: String
    public var manifestDigest: String
    public var bytes: Int64

    public init(step: Int, location: String, manifestDigest: String, bytes: Int64) {
        self.step = step
        self.location = location
        self.manifestDigest = manifestDigest
        self.bytes = bytes
    }
}

public struct RestoreResult: Sendable, Equatable {
    /// The checkpoint restored; nil when none verified (start from step 0).
    public var restored: CommittedCheckpointRef?
    /// Checkpoints skipped on the way, newest first, with why.
    public var skipped: [(step: Int, reason: String)]

    public static func == (a: RestoreResult, b: RestoreResult) -> Bool {
        a.restored == b.restored && a.skipped.map(\.step) == b.skipped.map(\.step)
            && a.skipped.map(\.reason) == b.skipped.map(\.reason)
    }
}

public struct GarbageCollection: Sendable, Equatable {
    public var removedCommitted: [Int]
    public var removedUncommitted: [String]
}

extension CheckpointStore {
    /// The restore rule every store follows: committed steps newest first (at most `atMost`),
    /// each copied into `directory` by `copy` (which verifies every file); a checkpoint that fails
    /// verification is skipped, with why, for the previous one. `copy` gets the step's directory
    /// name and returns the manifest and its SHA-256.
    func restoreNewestVerified(
        job: String, atMost: Int?, into directory: URL,
        copy: (String) async throws -> (CheckpointManifest, String)
    ) async throws -> RestoreResult {
        var skipped: [(step: Int, reason: String)] = []
        for step in try await committedSteps(job: job).reversed() where atMost.map({ step <= $0 }) ?? true {
            let name = LocalCheckpointStore.directoryName(step: step)
            do {
                let (manifest, digest) = try await copy(name)
                // An empty checkpoint (committed by an older spotwise) has nothing to resume from.
                guard !manifest.files.isEmpty else { throw CheckpointError.emptyCheckpoint("\(job)/\(name)") }
                return RestoreResult(
                    restored: CommittedCheckpointRef(
                        step: step, location: "\(job)/\(name)", manifestDigest: digest,
                        bytes: manifest.files.reduce(0) { $0 + $1.size }),
                    skipped: skipped)
            } catch let error as CheckpointError {
                skipped.append((step, error.description))
                try? FileManager.default.removeItem(at: directory)
            }
        }
        return RestoreResult(restored: nil, skipped: skipped)
    }
}
