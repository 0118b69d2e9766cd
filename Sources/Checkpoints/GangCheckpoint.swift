import Foundation

/// A gang's checkpoint: every rank writes its shard into the step's directory as `rank-R/...`
/// with a part file `rank-R.part.json` (its files, sizes and hashes) written after them; rank 0
/// then commits the step by writing one `manifest.json` that lists every rank's files, once all
/// parts are in. A step missing a rank's part is never committed, so a resume always finds every
/// rank's shard of the same step. See `checkpoints/FORMAT.md`.
public enum GangCheckpoint {
    public static func rankDirectory(_ rank: Int) -> String { "rank-\(rank)" }
    public static func partFileName(_ rank: Int) -> String { "rank-\(rank).part.json" }

    /// Whether a top-level name in a step directory is a rank's part file.
    static func isPartFile(_ name: String) -> Bool { name.hasPrefix("rank-") && name.hasSuffix(".part.json") }

    /// The part of `rank`: its entries with paths under `rank-R/`.
    static func part(job: String, attempt: Int, step: Int, rank: Int, entries: [CheckpointManifest.Entry], at now: Date)
        -> CheckpointManifest
    {
        CheckpointManifest(
            job: job, attempt: attempt, step: step, createdAt: now,
            files: entries.map {
                CheckpointManifest.Entry(path: "\(rankDirectory(rank))/\($0.path)", size: $0.size, sha256: $0.sha256)
            })
    }

    /// The gang's manifest from every rank's part, in rank order; refuses a part written for
    /// another step or with a path outside its rank's directory.
    static func manifest(job: String, attempt: Int, step: Int, parts: [CheckpointManifest], at now: Date) throws
        -> CheckpointManifest
    {
        var files: [CheckpointManifest.Entry] = []
        for (rank, part) in parts.enumerated() {
            guard part.step == step else {
                throw CheckpointError.io("rank \(rank)'s part is for step \(part.step), not \(step)")
            }
            for entry in part.files {
                guard CheckpointManifest.isSafe(entry.path), entry.path.hasPrefix(rankDirectory(rank) + "/") else {
                    throw CheckpointError.unsafePath(entry.path)
                }
                files.append(entry)
            }
        }
        var manifest = CheckpointManifest(job: job, attempt: attempt, step: step, createdAt: now, files: files)
        manifest.worldSize = parts.count
        return manifest
    }

    /// The world size a restored gang checkpoint was written with (the `rank-R` directories in
    /// it); nil for a single-node checkpoint.
    public static func worldSize(ofRestored directory: URL) -> Int? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        let ranks = names.compactMap { $0.hasPrefix("rank-") ? Int($0.dropFirst(5)) : nil }
        return ranks.isEmpty ? nil : ranks.count
    }

    /// Where rank `rank` of a gang resumes from in a restored gang checkpoint: its own shard, or
    /// rank 0's when the gang grew past the world size the checkpoint was written with.
    public static func resumeDirectory(in restored: URL, rank: Int) -> URL {
        let own = restored.appendingPathComponent(rankDirectory(rank), isDirectory: true)
        if FileManager.default.fileExists(atPath: own.path) { return own }
        return restored.appendingPathComponent(rankDirectory(0), isDirectory: true)
    }
}
