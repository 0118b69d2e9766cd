import Checkpoints
import Foundation

// Checkpoint commit and restore throughput against `cp` of the same files, in the same run.
// Commit = copy + SHA-256 of every byte + fsync of every file + manifest by atomic rename;
// restore = copy + SHA-256 check of every byte (no fsync: a crash just restores again).
// `cp` alone does not fsync, so `cp + sync` (coreutils `sync FILE...`) is shown beside it.
// Usage: swift run -c release CheckpointBenchmark [--mib 256] [--files 8] [--rounds 3]

func option(_ name: String, _ fallback: Int) -> Int {
    let arguments = CommandLine.arguments
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count, let value = Int(arguments[index + 1])
    else { return fallback }
    return value
}

let mebibytes = option("--mib", 256)
let files = option("--files", 8)
let rounds = option("--rounds", 3)
let base = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-bench-\(UUID().uuidString)")
let source = base.appendingPathComponent("source")
try FileManager.default.createDirectory(at: source, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: base) }

let random = FileHandle(forReadingAtPath: "/dev/urandom")!
for index in 0..<files {
    let data = try random.read(upToCount: mebibytes * 1_048_576 / files)!
    try data.write(to: source.appendingPathComponent("shard-\(index).bin"))
}
let bytes = Double(mebibytes * 1_048_576)

func run(_ executable: String, _ arguments: [String]) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { fatalError("\(executable) \(arguments) failed") }
}

/// Times `body` after an untimed `sync`, so no operation pays for the dirty pages of the one
/// before (without it, whichever ran after an unsynced copy was throttled by writeback).
func seconds(_ body: () async throws -> Void) async throws -> Double {
    try run("/bin/sync", [])
    let start = ContinuousClock.now
    try await body()
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

let store = LocalCheckpointStore(root: base.appendingPathComponent("store"))
var timings: [String: [Double]] = [:]
for round in 0..<rounds {
    let copy = base.appendingPathComponent("cp-\(round)")
    timings["cp", default: []].append(try await seconds { try run("/bin/cp", ["-r", source.path, copy.path]) })
    try FileManager.default.removeItem(at: copy)
    let synced = base.appendingPathComponent("cp-sync-\(round)")
    timings["cp + sync", default: []].append(
        try await seconds {
            try run("/bin/cp", ["-r", source.path, synced.path])
            let names = try FileManager.default.contentsOfDirectory(atPath: synced.path).map {
                synced.appendingPathComponent($0).path
            }
            try run("/bin/sync", names)
        })
    try FileManager.default.removeItem(at: synced)
    timings["commit", default: []].append(
        try await seconds { _ = try await store.commit(job: "bench", attempt: 1, step: round, from: source) })
    let restored = base.appendingPathComponent("restore-\(round)")
    timings["restore", default: []].append(
        try await seconds {
            let result = try await store.restore(job: "bench", atMost: round, into: restored)
            precondition(result.restored?.step == round)
        })
    try FileManager.default.removeItem(at: restored)
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
let cp = median(timings["cp"]!)
let cpSync = median(timings["cp + sync"]!)
print("checkpoint of \(mebibytes) MiB in \(files) files, median of \(rounds) rounds")
print("| operation | seconds | MiB/s | throughput vs cp | vs cp + sync |")
print("|---|---|---|---|---|")
for name in ["cp", "cp + sync", "commit", "restore"] {
    let time = median(timings[name]!)
    print(
        String(
            format: "| %@ | %.3f | %.0f | %.2f | %.2f |", name, time, bytes / 1_048_576 / time, cp / time, cpSync / time
        ))
}
