import Checkpoints
import Crypto
import Foundation
import Synchronization

// Checkpoint commit and restore against the machine's limit, in one run, for each shape of
// checkpoint (8 files of 32 MiB, 1 of 256 MiB, 2,000 of 64 KiB by default).
// Commit = copy + SHA-256 of every byte + fsync of every file + manifest by atomic rename;
// restore = copy + SHA-256 check of every byte (no fsync: a crash just restores again).
// The bounds, measured here on the same bytes: a commit cannot beat copying and syncing them
// (`cp -r` then `sync FILE...`) nor hashing them with every core; a restore cannot beat copying
// them (`cp -r`) nor hashing them with every core. Bound = the slower of the two.
// Each is timed on three stores in the same process: files one after another with copy, hash and
// sync in sequence (the store before issue 19), files on every core, and files on every core with
// a large file's copy, hash and writeback overlapped (the default).
// Usage: swift run -c release CheckpointBenchmark [--rounds 6] [--shapes 8x32768,1x262144,2000x64]
//            [--s3 http://127.0.0.1:PORT]
// (a shape is FILESxKIB). With --s3 (a moto server), the S3 store is measured instead, with 1, 4
// and 8 parts in flight (S3Parts.swift).

func option(_ name: String) -> String? {
    let arguments = CommandLine.arguments
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}

let rounds = option("--rounds").flatMap(Int.init) ?? 6
let shapes: [(files: Int, kib: Int)] = (option("--shapes") ?? "8x32768,1x262144,2000x64").split(separator: ",")
    .map { shape in
        let parts = shape.split(separator: "x").compactMap { Int($0) }
        precondition(parts.count == 2 && parts[0] > 0 && parts[1] > 0, "a shape is FILESxKIB, not \(shape)")
        return (parts[0], parts[1])
    }
let cores = ProcessInfo.processInfo.activeProcessorCount

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

/// SHA-256 of every byte of `paths` on every core: the bytes cut into as many equal ranges as
/// there are cores (a range never spans two files), each range hashed by a free core.
func hashOnEveryCore(_ paths: [String], bytesEach: Int) {
    let perCore = max(1, paths.count * bytesEach / cores)
    var ranges: [(path: String, offset: Int, length: Int)] = []
    for path in paths {
        var offset = 0
        while offset < bytesEach {
            let length = min(perCore, bytesEach - offset)
            ranges.append((path, offset, length))
            offset += length
        }
    }
    let next = Atomic<Int>(0)
    let work = ranges
    DispatchQueue.concurrentPerform(iterations: min(cores, ranges.count)) { _ in
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { buffer.deallocate() }
        while case let index = next.add(1, ordering: .relaxed).oldValue, index < work.count {
            let range = work[index]
            let fd = open(range.path, O_RDONLY)
            precondition(fd >= 0)
            var hasher = SHA256()
            var done = 0
            while done < range.length {
                let count = pread(fd, buffer.baseAddress, min(1 << 20, range.length - done), off_t(range.offset + done))
                precondition(count > 0)
                hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                done += count
            }
            close(fd)
            _ = hasher.finalize()
        }
    }
}

func measure(files: Int, kib: Int) async throws {
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-bench-\(UUID().uuidString)")
    let source = base.appendingPathComponent("source")
    try FileManager.default.createDirectory(at: source, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: base) }
    let random = FileHandle(forReadingAtPath: "/dev/urandom")!
    var paths: [String] = []
    for index in 0..<files {
        let path = source.appendingPathComponent(String(format: "shard-%05d.bin", index)).path
        try random.read(upToCount: kib * 1024)!.write(to: URL(fileURLWithPath: path))
        paths.append(path)
    }
    let bytes = Double(files * kib * 1024)
    // The store of issue 4 (one file at a time; copy, hash and sync one after another), the
    // files on every core without overlap (issue 19's first step), and today's default (every
    // core, and a large file's copy, hash and writeback overlapped).
    let stores = [
        (
            "one file at a time",
            LocalCheckpointStore(
                root: base.appendingPathComponent("store-1"), fileParallelism: 1, overlapsLargeFiles: false)
        ),
        (
            "every core, no overlap",
            LocalCheckpointStore(root: base.appendingPathComponent("store-n"), overlapsLargeFiles: false)
        ),
        ("every core, overlapped", LocalCheckpointStore(root: base.appendingPathComponent("store-o"))),
    ]
    var timings: [String: [Double]] = [:]
    var leftovers: [URL] = []
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
        timings["sha256, \(cores) cores", default: []].append(
            try await seconds { hashOnEveryCore(paths, bytesEach: kib * 1024) })
        // Which store goes first rotates by round: a write right after another's 256 MiB ran
        // 1.5-3x slower here (the virtual disk, either store, measured), so none may always be
        // second.
        let order = stores.indices.map { stores[($0 + round) % stores.count] }
        for (slot, (label, store)) in order.enumerated() {
            timings["commit, \(label)", default: []].append(
                try await seconds { _ = try await store.commit(job: "bench", attempt: 1, step: round, from: source) })
            let restored = base.appendingPathComponent("restore-\(round)-\(slot)")
            timings["restore, \(label)", default: []].append(
                try await seconds {
                    let result = try await store.restore(job: "bench", atMost: round, into: restored)
                    precondition(result.restored?.step == round)
                })
            leftovers.append(restored)
        }
        // Removed once all are timed, so no timing follows a removal.
        for directory in leftovers { try FileManager.default.removeItem(at: directory) }
        leftovers = []
    }
    func median(_ name: String) -> Double { timings[name]!.sorted()[timings[name]!.count / 2] }
    let hashing = median("sha256, \(cores) cores")
    let commitBound = max(median("cp + sync"), hashing)
    let restoreBound = max(median("cp"), hashing)
    print("\n\(files) files of \(kib) KiB (\(Int(bytes) / 1_048_576) MiB), median of \(rounds) rounds, \(cores) cores")
    print("| operation | seconds | MiB/s | of its bound |")
    print("|---|---|---|---|")
    func row(_ name: String, bound: Double?) {
        let time = median(name)
        let share = bound.map { String(format: "%.2f", $0 / time) } ?? "-"
        print(String(format: "| %@ | %.3f | %.0f | %@ |", name, time, bytes / 1_048_576 / time, share))
    }
    for name in ["cp", "cp + sync", "sha256, \(cores) cores"] { row(name, bound: nil) }
    print(String(format: "| commit bound | %.3f | %.0f | - |", commitBound, bytes / 1_048_576 / commitBound))
    print(String(format: "| restore bound | %.3f | %.0f | - |", restoreBound, bytes / 1_048_576 / restoreBound))
    for (label, _) in stores {
        row("commit, \(label)", bound: commitBound)
        row("restore, \(label)", bound: restoreBound)
    }
}

if let endpoint = option("--s3").flatMap(URL.init(string:)) {
    for shape in shapes { try await measureS3(endpoint: endpoint, files: shape.files, kib: shape.kib, rounds: rounds) }
} else {
    for shape in shapes { try await measure(files: shape.files, kib: shape.kib) }
}
