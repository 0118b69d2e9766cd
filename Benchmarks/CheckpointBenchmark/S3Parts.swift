import Checkpoints
import CloudAuth
import Foundation

/// The S3 store against a moto server on loopback (`--s3 http://127.0.0.1:PORT`): one checkpoint
/// committed and restored with 1, 4 and 8 parts in flight (parts of 8 MiB; `parallelParts` for
/// the upload, `downloadParts` ranged GETs for the restore), the same bytes in the same run. 1 is
/// one part at a time on commit and one streaming GET per file on restore; the figures are
/// ratios against it, since moto is a local Python server and its absolute speed says nothing
/// about S3's (and moto reads a whole object to answer each range).
func measureS3(endpoint: URL, files: Int, kib: Int, rounds: Int) async throws {
    let sender = AWSRequestSender(
        endpoint: endpoint, region: "us-east-1", service: "s3",
        credentials: { AWSCredentials(accessKeyID: "AKIDBENCH", secretAccessKey: "bench-secret") })
    let bucket = "ckpt-bench-\(UUID().uuidString.prefix(8).lowercased())"
    _ = try await sender.send("PUT", "/\(bucket)")
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-s3-bench-\(UUID().uuidString)")
    let source = base.appendingPathComponent("source")
    try FileManager.default.createDirectory(at: source, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: base) }
    let random = FileHandle(forReadingAtPath: "/dev/urandom")!
    for index in 0..<files {
        try random.read(upToCount: kib * 1024)!.write(
            to: source.appendingPathComponent(String(format: "shard-%05d.bin", index)))
    }
    let mebibytes = Double(files * kib) / 1024
    let widths = [1, 4, 8]
    var timings: [String: [Double]] = [:]
    for round in 0..<rounds {
        // The order rotates by round, so no width always runs right after another's upload.
        for offset in 0..<widths.count {
            let width = widths[(round + offset) % widths.count]
            let store = S3CheckpointStore(
                bucket: bucket, prefix: "w\(width)", sender: sender, partBytes: 8 << 20, parallelParts: width,
                downloadParts: width)
            let step = round
            timings["commit, \(width)", default: []].append(
                try await seconds { _ = try await store.commit(job: "bench", attempt: 1, step: step, from: source) })
            let restored = base.appendingPathComponent("restore-\(round)-\(width)")
            timings["restore, \(width)", default: []].append(
                try await seconds {
                    let result = try await store.restore(job: "bench", atMost: step, into: restored)
                    precondition(result.restored?.step == step, "restore found \(String(describing: result))")
                })
            try FileManager.default.removeItem(at: restored)
        }
    }
    func median(_ name: String) -> Double { timings[name]!.sorted()[timings[name]!.count / 2] }
    print("\nS3 (moto on loopback): \(files) files of \(kib) KiB, parts of 8 MiB, median of \(rounds) rounds")
    print("| parts in flight | commit MiB/s | vs 1 | restore MiB/s | vs 1 |")
    print("|---|---|---|---|---|")
    for width in widths {
        let commit = median("commit, \(width)")
        let restore = median("restore, \(width)")
        print(
            String(
                format: "| %d | %.0f | %.2f | %.0f | %.2f |", width, mebibytes / commit, median("commit, 1") / commit,
                mebibytes / restore, median("restore, 1") / restore))
    }
}
