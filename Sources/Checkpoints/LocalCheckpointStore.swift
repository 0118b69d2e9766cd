import Crypto
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Checkpoints on the local filesystem under `root` (default `checkpoints/`):
/// `ROOT/JOB/step-0000000050/` holds the files and, once committed, `manifest.json`.
public struct LocalCheckpointStore: CheckpointStore {
    public let root: URL
    let now: @Sendable () -> Date

    /// How many files a commit or a restore copies and hashes at once (default: every core).
    public let fileParallelism: Int
    /// Whether a large file's copy, hash and writeback overlap (`HashingCopy`; default). False
    /// runs them one after another, as the store of issue 4 did: the benchmark's baseline.
    public let overlapsLargeFiles: Bool

    public init(
        root: URL, now: @escaping @Sendable () -> Date = Date.init,
        fileParallelism: Int = ProcessInfo.processInfo.activeProcessorCount, overlapsLargeFiles: Bool = true
    ) {
        self.fileParallelism = max(1, fileParallelism)
        self.overlapsLargeFiles = overlapsLargeFiles
        self.root = root.standardizedFileURL
        self.now = now
    }

    static func directoryName(step: Int) -> String {
        let digits = String(step)
        return "step-" + String(repeating: "0", count: max(0, 10 - digits.count)) + digits
    }

    /// The step of a `step-NNNNNNNNNN` directory name: exactly ten ASCII digits, within `validSteps`.
    static func step(ofDirectory name: String) -> Int? {
        guard name.hasPrefix("step-"), name.utf8.count == 15 else { return nil }
        let digits = name.utf8.dropFirst(5)
        guard digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            let step = Int(String(decoding: digits, as: UTF8.self)), validSteps.contains(step)
        else { return nil }
        return step
    }

    /// A job's name as a directory or key component: letters, digits, `-`, `_`, `.`; not `.` or `..`.
    static func checkJobName(_ job: String) throws {
        guard !job.isEmpty, job.count <= 200,
            job.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }),
            job != ".", job != ".."
        else { throw CheckpointError.invalidName(job) }
    }

    /// The job's directory under the real root (see `confinedDirectory`); nil when it does not
    /// exist and `creating` is false.
    func jobDirectory(_ job: String, creating: Bool = false) throws -> URL? {
        try Self.checkJobName(job)
        return try confinedDirectory([job], creating: creating)
    }

    // MARK: Commit

    public func commit(job: String, attempt: Int, step: Int, from directory: URL) async throws -> CommittedCheckpointRef
    {
        try commitDirectory(
            job: job, attempt: attempt, step: step, name: try Self.checkpointDirectoryName(step: step), from: directory)
    }

    /// The model directory of a job's attempt: `ROOT/JOB/model-attempt-N/`, committed like a
    /// checkpoint (one per attempt, so a fenced attempt's output never stands in for the next's).
    public static func artifactDirectoryName(attempt: Int) -> String { "model-attempt-\(attempt)" }

    public func commitArtifact(job: String, attempt: Int, from directory: URL) async throws -> CommittedCheckpointRef {
        try commitDirectory(
            job: job, attempt: attempt, step: 0, name: Self.artifactDirectoryName(attempt: attempt), from: directory)
    }

    public func verify(location: String, manifestDigest: String) async throws -> CheckpointManifest {
        let parts = location.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2, CheckpointManifest.isSafe(location) else { throw CheckpointError.unsafePath(location) }
        try Self.checkJobName(parts[0])
        guard let source = try confinedDirectory(parts, creating: false),
            let data = try Self.readStoreFile(
                source.appendingPathComponent(CheckpointManifest.fileName),
                shown: "\(location)/\(CheckpointManifest.fileName)")
        else {
            throw CheckpointError.unreadableManifest(
                "no \(CheckpointManifest.fileName) in \(location) under \(root.path)")
        }
        let digest = Self.hex(SHA256.hash(data: data))
        guard digest == manifestDigest else {
            throw CheckpointError.manifestDigestMismatch(expected: manifestDigest, found: digest)
        }
        let manifest = try Self.decodeManifest(data)
        if Self.step(ofDirectory: parts[1]) != nil, manifest.files.isEmpty {
            throw CheckpointError.emptyCheckpoint(location)
        }
        for entry in manifest.files {
            let (file, size) = try Self.confinedFile(entry.path, in: source)
            guard size == entry.size else {
                throw CheckpointError.sizeMismatch(path: entry.path, expected: entry.size, found: size)
            }
            let fd = open(file.path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
            guard fd >= 0 else { throw CheckpointError.io("cannot read \(file.path): \(Self.errnoText())") }
            defer { close(fd) }
            let (_, found) = try Self.hashContents(of: fd, path: file.path)
            guard found == entry.sha256 else {
                throw CheckpointError.hashMismatch(path: entry.path, expected: entry.sha256, found: found)
            }
        }
        return manifest
    }

    /// Commits `directory` as `JOB/name`: a checkpoint (a `step-` name) must hold a file; a
    /// model directory may be empty. Nothing is written to the store when the source is refused.
    func commitDirectory(job: String, attempt: Int, step: Int, name: String, from directory: URL) throws
        -> CommittedCheckpointRef
    {
        try Self.checkJobName(job)
        if let jobDirectory = try jobDirectory(job),
            let existing = try Self.existingCommit(in: jobDirectory, job: job, name: name, step: step)
        {
            return existing
        }
        let files = try Self.regularFiles(under: directory, requireFiles: Self.step(ofDirectory: name) != nil)
        guard let jobDirectory = try jobDirectory(job, creating: true) else {
            throw CheckpointError.io("cannot create \(job) under \(root.path)")
        }
        let fm = FileManager.default
        // A directory without a manifest is a torn earlier try: start it over.
        if let torn = try Self.existingDirectory(name, in: jobDirectory, shown: "\(job)/\(name)") {
            try fm.removeItem(at: torn)
        }
        guard let target = try confinedDirectory([job, name], creating: true) else {
            throw CheckpointError.io("cannot create \(job)/\(name) under \(root.path)")
        }
        let entries = try Self.copyIn(
            files, from: directory, to: target, width: fileParallelism, overlap: overlapsLargeFiles)
        let manifest = CheckpointManifest(job: job, attempt: attempt, step: step, createdAt: now(), files: entries)
        return try writeManifest(manifest, into: target, job: job, name: name)
    }

    /// Writes `manifest` into `target` by atomic rename (the commit point) and syncs the way there.
    func writeManifest(_ manifest: CheckpointManifest, into target: URL, job: String, name: String) throws
        -> CommittedCheckpointRef
    {
        let data = try CheckpointManifest.encoder.encode(manifest)
        let manifestURL = target.appendingPathComponent(CheckpointManifest.fileName)
        try Self.writeAtomically(data, to: manifestURL)
        Self.syncDirectory(target.deletingLastPathComponent())
        return CommittedCheckpointRef(
            step: manifest.step, location: "\(job)/\(name)", manifestDigest: Self.hex(SHA256.hash(data: data)),
            bytes: manifest.files.reduce(0) { $0 + $1.size })
    }

    /// Writes `data` to a temporary file beside `url`, syncs it, renames it over `url` and syncs
    /// the directory: readers see the old file or the whole new one.
    static func writeAtomically(_ data: Data, to url: URL) throws {
        let temporary = url.appendingPathExtension("tmp")
        try writeSynced(data, to: temporary)
        guard rename(temporary.path, url.path) == 0 else {
            throw CheckpointError.io("cannot commit \(url.path): \(String(cString: strerror(errno)))")
        }
        syncDirectory(url.deletingLastPathComponent())
    }

    /// The commit already made as `JOB/name` in `jobDirectory`, if any (committing again changes
    /// nothing). A symlink where the directory or its manifest should be is refused.
    static func existingCommit(in jobDirectory: URL, job: String, name: String, step: Int) throws
        -> CommittedCheckpointRef?
    {
        guard let target = try existingDirectory(name, in: jobDirectory, shown: "\(job)/\(name)"),
            let data = try readStoreFile(
                target.appendingPathComponent(CheckpointManifest.fileName),
                shown: "\(job)/\(name)/\(CheckpointManifest.fileName)")
        else { return nil }
        let manifest = try decodeManifest(data)
        return CommittedCheckpointRef(
            step: step, location: "\(job)/\(name)", manifestDigest: hex(SHA256.hash(data: data)),
            bytes: manifest.files.reduce(0) { $0 + $1.size })
    }

    // MARK: Gang checkpoints

    public func commitShard(job: String, attempt: Int, step: Int, rank: Int, from directory: URL) async throws {
        let name = try Self.checkpointDirectoryName(step: step)
        try Self.checkJobName(job)
        let shown = "\(job)/\(name)"
        if let committed = try confinedDirectory([job, name], creating: false),
            try Self.readStoreFile(
                committed.appendingPathComponent(CheckpointManifest.fileName),
                shown: "\(shown)/\(CheckpointManifest.fileName)") != nil
        {
            return
        }
        let files = try Self.regularFiles(under: directory, requireFiles: true)
        guard let target = try confinedDirectory([job, name], creating: true) else {
            throw CheckpointError.io("cannot create \(shown) under \(root.path)")
        }
        let fm = FileManager.default
        let rankName = GangCheckpoint.rankDirectory(rank)
        if let earlier = try Self.existingDirectory(rankName, in: target, shown: "\(shown)/\(rankName)") {
            try fm.removeItem(at: earlier)
        }
        guard let shard = try confinedDirectory([job, name, rankName], creating: true) else {
            throw CheckpointError.io("cannot create \(shown)/\(rankName) under \(root.path)")
        }
        let entries = try Self.copyIn(
            files, from: directory, to: shard, width: fileParallelism, overlap: overlapsLargeFiles)
        Self.syncDirectory(shard)
        let part = GangCheckpoint.part(job: job, attempt: attempt, step: step, rank: rank, entries: entries, at: now())
        try Self.writeAtomically(
            try CheckpointManifest.encoder.encode(part),
            to: target.appendingPathComponent(GangCheckpoint.partFileName(rank)))
    }

    public func commitGang(job: String, attempt: Int, step: Int, worldSize: Int) async throws
        -> CommittedCheckpointRef?
    {
        let name = try Self.checkpointDirectoryName(step: step)
        try Self.checkJobName(job)
        guard let jobDirectory = try jobDirectory(job),
            let target = try Self.existingDirectory(name, in: jobDirectory, shown: "\(job)/\(name)")
        else { return nil }
        if let existing = try Self.existingCommit(in: jobDirectory, job: job, name: name, step: step) {
            return existing
        }
        var parts: [CheckpointManifest] = []
        for rank in 0..<worldSize {
            let partName = GangCheckpoint.partFileName(rank)
            guard
                let data = try Self.readStoreFile(
                    target.appendingPathComponent(partName), shown: "\(job)/\(name)/\(partName)")
            else { return nil }
            parts.append(try Self.decodeManifest(data))
        }
        let manifest = try GangCheckpoint.manifest(job: job, attempt: attempt, step: step, parts: parts, at: now())
        guard !manifest.files.isEmpty else { throw CheckpointError.emptyCheckpoint("\(job)/\(name)") }
        for entry in manifest.files {
            let (_, size) = try Self.confinedFile(entry.path, in: target)
            guard size == entry.size else {
                throw CheckpointError.sizeMismatch(path: entry.path, expected: entry.size, found: size)
            }
        }
        return try writeManifest(manifest, into: target, job: job, name: name)
    }

    /// Regular files under a trainer's directory, relative and sorted. The directory must exist
    /// and not be a symlink; an entry that is a symlink, a device or a hard link (more than one
    /// link) is refused; with `requireFiles` (a checkpoint) it must hold at least one file.
    static func regularFiles(under directory: URL, requireFiles: Bool) throws -> [String] {
        let base = directory.standardizedFileURL.path
        var info = stat()
        guard lstat(base, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw CheckpointError.missingSource(base)
        }
        guard let walker = FileManager.default.enumerator(atPath: base) else {
            throw CheckpointError.io("cannot read \(base)")
        }
        var files: [String] = []
        while let relative = walker.nextObject() as? String {
            guard lstat(base + "/" + relative, &info) == 0 else { throw CheckpointError.missingFile(relative) }
            if info.st_mode & S_IFMT == S_IFDIR { continue }
            try requireSingleLinkFile(info, relative)
            files.append(relative)
        }
        if requireFiles, files.isEmpty { throw CheckpointError.emptyCheckpoint(base) }
        return files.sorted()
    }

    /// Copies `files` (paths relative to `directory`) into `target`, each hashed and synced, on
    /// every core (`ParallelFiles`); the entries come back in the order of `files`.
    static func copyIn(_ files: [String], from directory: URL, to target: URL, width: Int, overlap: Bool) throws
        -> [CheckpointManifest.Entry]
    {
        for parent in Set(files.map { target.appendingPathComponent($0).deletingLastPathComponent().path }) {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        }
        return try ParallelFiles.map(files.count, width: width) { index in
            let relative = files[index]
            let (size, digest) = try copyHashing(
                from: directory.appendingPathComponent(relative), to: target.appendingPathComponent(relative),
                overlap: overlap)
            return CheckpointManifest.Entry(path: relative, size: size, sha256: digest)
        }
    }

    /// Copies a file and hashes the copy (`HashingCopy`: a large file's copy, hash and writeback
    /// overlapped); `durable` fsyncs it. A commit must be durable; a restore into scratch need
    /// not be (a crash restores again).
    static func copyHashing(from source: URL, to destination: URL, durable: Bool = true, overlap: Bool) throws -> (
        Int64, String
    ) {
        try HashingCopy.run(from: source, to: destination, durable: durable, overlap: overlap)
    }

    /// SHA-256 and size of what `fd` holds from offset 0 to the end.
    static func hashContents(of fd: Int32, path: String) throws -> (Int64, String) {
        try HashingCopy.hash(fd, from: 0, upTo: nil, path: path, into: SHA256())
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }

    static func writeSynced(_ data: Data, to url: URL) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: nil),
            let handle = FileHandle(forWritingAtPath: url.path)
        else { throw CheckpointError.io("cannot create \(url.path)") }
        defer { try? handle.close() }
        try handle.write(contentsOf: data)
        try handle.synchronize()
    }

    static func syncDirectory(_ url: URL) {
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        _ = close(fd)
    }

    static func hex(_ digest: some Sequence<UInt8>) -> String {
        digest.map { String(format: "%02x", $0) }.joined()
    }

    static func decodeManifest(_ data: Data) throws -> CheckpointManifest {
        try CheckpointManifest.read(data)
    }

    // MARK: Restore

    /// Step directories that are real directories (not symlinks) with a manifest that is a
    /// regular file; a job directory that is a symlink is refused.
    public func committedSteps(job: String) async throws -> [Int] {
        guard let jobDirectory = try jobDirectory(job) else { return [] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: jobDirectory.path)) ?? []
        return names.compactMap { name in
            guard let step = Self.step(ofDirectory: name) else { return nil }
            var info = stat()
            let directory = jobDirectory.appendingPathComponent(name)
            guard lstat(directory.path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR,
                lstat(directory.appendingPathComponent(CheckpointManifest.fileName).path, &info) == 0,
                info.st_mode & S_IFMT == S_IFREG
            else { return nil }
            return step
        }.sorted()
    }

    public func restore(job: String, atMost: Int?, into directory: URL) async throws -> RestoreResult {
        guard let jobDirectory = try jobDirectory(job) else { return RestoreResult(restored: nil, skipped: []) }
        var result = try await restoreNewestVerified(job: job, atMost: atMost, into: directory) { name in
            try Self.verifiedCopy(
                from: jobDirectory, name: name, job: job, to: directory, width: fileParallelism,
                overlap: overlapsLargeFiles)
        }
        // A step directory that is a symlink is never listed as committed; say that it was refused.
        let refused = Self.refusedStepEntries(in: jobDirectory, job: job).filter { refused in
            atMost.map { refused.step <= $0 } ?? true && refused.step > result.restored?.step ?? -1
        }
        if !refused.isEmpty {
            result.skipped = (result.skipped + refused).sorted { $0.step > $1.step }
        }
        return result
    }

    /// Copies every file the manifest of `JOB/name` lists into `destination`, checking size and
    /// hash; refuses a path that leaves the checkpoint directory, a directory on the way that is a
    /// symlink, and a listed file that is not a single-link regular file.
    static func verifiedCopy(
        from jobDirectory: URL, name: String, job: String, to destination: URL, width: Int, overlap: Bool
    ) throws
        -> (CheckpointManifest, String)
    {
        let shown = "\(job)/\(name)"
        guard let source = try existingDirectory(name, in: jobDirectory, shown: shown),
            let data = try readStoreFile(
                source.appendingPathComponent(CheckpointManifest.fileName),
                shown: "\(shown)/\(CheckpointManifest.fileName)")
        else { throw CheckpointError.unreadableManifest("no \(CheckpointManifest.fileName) in \(shown)") }
        let manifest = try decodeManifest(data)
        let fm = FileManager.default
        if fm.fileExists(atPath: destination.path) { try fm.removeItem(at: destination) }
        try fm.createDirectory(at: destination, withIntermediateDirectories: true)
        var sources: [URL] = []
        for entry in manifest.files {
            let (file, size) = try confinedFile(entry.path, in: source)
            guard size == entry.size else {
                throw CheckpointError.sizeMismatch(path: entry.path, expected: entry.size, found: size)
            }
            try fm.createDirectory(
                at: destination.appendingPathComponent(entry.path).deletingLastPathComponent(),
                withIntermediateDirectories: true)
            sources.append(file)
        }
        // Copied and checked on every core.
        _ = try ParallelFiles.map(sources.count, width: width) { index in
            let entry = manifest.files[index]
            let (_, digest) = try copyHashing(
                from: sources[index], to: destination.appendingPathComponent(entry.path), durable: false,
                overlap: overlap)
            guard digest == entry.sha256 else {
                throw CheckpointError.hashMismatch(path: entry.path, expected: entry.sha256, found: digest)
            }
        }
        return (manifest, hex(SHA256.hash(data: data)))
    }

    // MARK: Retention

    public func collectGarbage(job: String, keepLast: Int) async throws -> GarbageCollection {
        guard let jobDirectory = try jobDirectory(job) else {
            return GarbageCollection(removedCommitted: [], removedUncommitted: [])
        }
        let fm = FileManager.default
        let committed = try await committedSteps(job: job)
        let doomed = Array(committed.dropLast(max(1, keepLast)))
        for step in doomed {
            try fm.removeItem(at: jobDirectory.appendingPathComponent(Self.directoryName(step: step)))
        }
        var uncommitted: [String] = []
        let kept = Set(committed.map(Self.directoryName(step:)))
        for name in (try? fm.contentsOfDirectory(atPath: jobDirectory.path)) ?? [] where !kept.contains(name) {
            guard let step = Self.step(ofDirectory: name) else { continue }
            let entry = jobDirectory.appendingPathComponent(name)
            var info = stat()
            guard lstat(entry.path, &info) == 0 else { continue }
            if info.st_mode & S_IFMT != S_IFDIR {
                // A symlink (or file) where a step directory belongs: remove the entry itself,
                // never what it points at.
                guard unlink(entry.path) == 0 else {
                    throw CheckpointError.io("cannot remove \(entry.path): \(Self.errnoText())")
                }
                uncommitted.append(name)
                continue
            }
            let contents = (try? fm.contentsOfDirectory(atPath: entry.path)) ?? []
            if step > committed.last ?? -1, contents.contains(where: GangCheckpoint.isPartFile) { continue }
            try fm.removeItem(at: entry)
            uncommitted.append(name)
        }
        return GarbageCollection(removedCommitted: doomed, removedUncommitted: uncommitted.sorted())
    }
}
