import CloudAuth
import Crypto
import Foundation

/// Checkpoints in S3 (or an S3-compatible store) under `s3://BUCKET/PREFIX/`, with the local
/// store's layout (`JOB/step-0000000050/FILES` and `manifest.json`) and rules: files first, the
/// manifest last (S3 is strongly consistent, so a visible manifest means every file is there),
/// restore only what verifies, retention by committed step. Large files go up as multipart uploads
/// with parts sent in parallel and retried; path-style URLs (`ENDPOINT/BUCKET/KEY`), which every
/// S3-compatible server and the moto server take.
public struct S3CheckpointStore: CheckpointStore {
    public let bucket: String
    public let prefix: String
    let sender: AWSRequestSender
    let now: @Sendable () -> Date
    /// Files larger than this go up in parts of this size (S3's minimum part is 5 MiB).
    public var partBytes: Int
    /// Parts of one upload in flight at once.
    public var parallelParts: Int
    /// Ranged GETs of one large file in flight at once on restore; 1 (the default) reads each
    /// file with one streaming GET. Off by default because it is unmeasured against S3: the
    /// moto server reads the whole object for every range, so parts in flight there ran 2-9x
    /// slower (docs/benchmarks.md).
    public var downloadParts: Int

    public init(
        bucket: String, prefix: String, sender: AWSRequestSender, partBytes: Int = 8 << 20, parallelParts: Int = 4,
        downloadParts: Int = 1, now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.bucket = bucket
        self.prefix = prefix.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        self.sender = sender
        self.partBytes = max(5 << 20, partBytes)
        self.parallelParts = max(1, parallelParts)
        self.downloadParts = max(1, downloadParts)
        self.now = now
    }

    /// The store for `s3://BUCKET/PREFIX`; `endpoint` overrides AWS's (moto, MinIO).
    public static func parse(
        _ storage: String, region: String, endpoint: URL?,
        credentials: @escaping @Sendable () async throws -> AWSCredentials
    ) throws -> S3CheckpointStore {
        guard storage.hasPrefix("s3://") else { throw CheckpointError.invalidName(storage) }
        let rest = storage.dropFirst("s3://".count)
        let bucket = String(rest.prefix { $0 != "/" })
        guard !bucket.isEmpty else { throw CheckpointError.invalidName(storage) }
        let prefix = String(rest.dropFirst(bucket.count))
        let base = endpoint ?? URL(string: "https://s3.\(region).amazonaws.com")!
        return S3CheckpointStore(
            bucket: bucket, prefix: prefix,
            sender: AWSRequestSender(endpoint: base, region: region, service: "s3", credentials: credentials))
    }

    // MARK: Keys

    func jobKey(_ job: String) throws -> String {
        try LocalCheckpointStore.checkJobName(job)
        return prefix.isEmpty ? job : "\(prefix)/\(job)"
    }

    func objectPath(_ key: String) -> String { "/\(bucket)/\(key)" }

    // MARK: Commit

    public func commit(job: String, attempt: Int, step: Int, from directory: URL) async throws -> CommittedCheckpointRef
    {
        try await commitDirectory(
            job: job, attempt: attempt, step: step, name: try LocalCheckpointStore.checkpointDirectoryName(step: step),
            from: directory)
    }

    public func commitArtifact(job: String, attempt: Int, from directory: URL) async throws -> CommittedCheckpointRef {
        try await commitDirectory(
            job: job, attempt: attempt, step: 0, name: LocalCheckpointStore.artifactDirectoryName(attempt: attempt),
            from: directory)
    }

    func commitDirectory(job: String, attempt: Int, step: Int, name: String, from directory: URL) async throws
        -> CommittedCheckpointRef
    {
        let base = "\(try jobKey(job))/\(name)"
        if let existing = try await existingCommit(base: base, location: "\(job)/\(name)", step: step) {
            return existing
        }
        var entries: [CheckpointManifest.Entry] = []
        let isCheckpoint = LocalCheckpointStore.step(ofDirectory: name) != nil
        for relative in try LocalCheckpointStore.regularFiles(under: directory, requireFiles: isCheckpoint) {
            let (size, digest) = try await upload(
                directory.appendingPathComponent(relative), key: "\(base)/\(relative)")
            entries.append(CheckpointManifest.Entry(path: relative, size: size, sha256: digest))
        }
        let manifest = CheckpointManifest(job: job, attempt: attempt, step: step, createdAt: now(), files: entries)
        return try await putManifest(manifest, base: base, location: "\(job)/\(name)")
    }

    /// The commit already made under `base`, if any (committing again changes nothing).
    func existingCommit(base: String, location: String, step: Int) async throws -> CommittedCheckpointRef? {
        guard let existing = try await manifestData(base) else { return nil }
        let manifest = try LocalCheckpointStore.decodeManifest(existing)
        return CommittedCheckpointRef(
            step: step, location: location, manifestDigest: AWSSigner.sha256Hex(existing),
            bytes: manifest.files.reduce(0) { $0 + $1.size })
    }

    /// Puts the manifest: the commit point.
    func putManifest(_ manifest: CheckpointManifest, base: String, location: String) async throws
        -> CommittedCheckpointRef
    {
        let data = try CheckpointManifest.encoder.encode(manifest)
        try await putJSON(data, key: "\(base)/\(CheckpointManifest.fileName)")
        return CommittedCheckpointRef(
            step: manifest.step, location: location, manifestDigest: AWSSigner.sha256Hex(data),
            bytes: manifest.files.reduce(0) { $0 + $1.size })
    }

    func putJSON(_ data: Data, key: String) async throws {
        _ = try await sender.send("PUT", objectPath(key), headers: [("content-type", "application/json")], body: data)
    }

    // MARK: Gang checkpoints

    public func commitShard(job: String, attempt: Int, step: Int, rank: Int, from directory: URL) async throws {
        let base = "\(try jobKey(job))/\(try LocalCheckpointStore.checkpointDirectoryName(step: step))"
        guard try await manifestData(base) == nil else { return }
        var entries: [CheckpointManifest.Entry] = []
        for relative in try LocalCheckpointStore.regularFiles(under: directory, requireFiles: true) {
            let (size, digest) = try await upload(
                directory.appendingPathComponent(relative),
                key: "\(base)/\(GangCheckpoint.rankDirectory(rank))/\(relative)")
            entries.append(CheckpointManifest.Entry(path: relative, size: size, sha256: digest))
        }
        let part = GangCheckpoint.part(job: job, attempt: attempt, step: step, rank: rank, entries: entries, at: now())
        try await putJSON(
            try CheckpointManifest.encoder.encode(part), key: "\(base)/\(GangCheckpoint.partFileName(rank))")
    }

    public func commitGang(job: String, attempt: Int, step: Int, worldSize: Int) async throws
        -> CommittedCheckpointRef?
    {
        let name = try LocalCheckpointStore.checkpointDirectoryName(step: step)
        let base = "\(try jobKey(job))/\(name)"
        if let existing = try await existingCommit(base: base, location: "\(job)/\(name)", step: step) {
            return existing
        }
        var parts: [CheckpointManifest] = []
        for rank in 0..<worldSize {
            do {
                let data = try await sender.send("GET", objectPath("\(base)/\(GangCheckpoint.partFileName(rank))")).body
                parts.append(try LocalCheckpointStore.decodeManifest(data))
            } catch let error as AWSError where error.status == 404 {
                return nil
            }
        }
        let manifest = try GangCheckpoint.manifest(job: job, attempt: attempt, step: step, parts: parts, at: now())
        return try await putManifest(manifest, base: base, location: "\(job)/\(name)")
    }

    /// One object from a file: a single PUT, or a multipart upload with parallel parts. Returns the
    /// size and SHA-256 of what was read (and sent).
    func upload(_ file: URL, key: String) async throws -> (Int64, String) {
        let handle = try FileHandle(forReadingFrom: file)
        defer { try? handle.close() }
        let size = Int64(try FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int ?? 0)
        var hasher = StreamingSHA256()
        if size <= Int64(partBytes) {
            let data = try handle.readToEnd() ?? Data()
            hasher.update(data)
            _ = try await sender.send("PUT", objectPath(key), body: data)
            return (Int64(data.count), hasher.finalizeHex())
        }
        let created = try await sender.send("POST", objectPath(key), query: [("uploads", "")])
        guard let uploadID = XMLTags.first("UploadId", in: String(decoding: created.body, as: UTF8.self)) else {
            throw CheckpointError.io("S3 gave no UploadId for \(key)")
        }
        do {
            var etags: [Int: String] = [:]
            try await withThrowingTaskGroup(of: (Int, String).self) { group in
                var number = 0
                var inFlight = 0
                while let part = try handle.read(upToCount: partBytes), !part.isEmpty {
                    hasher.update(part)
                    number += 1
                    if inFlight == parallelParts, let (done, etag) = try await group.next() {
                        etags[done] = etag
                        inFlight -= 1
                    }
                    let partNumber = number
                    group.addTask {
                        let response = try await sender.send(
                            "PUT", objectPath(key),
                            query: [("partNumber", String(partNumber)), ("uploadId", uploadID)],
                            body: part)
                        guard let etag = response.header("ETag") else {
                            throw CheckpointError.io("S3 gave no ETag for part \(partNumber) of \(key)")
                        }
                        return (partNumber, etag)
                    }
                    inFlight += 1
                }
                for try await (done, etag) in group { etags[done] = etag }
            }
            let parts = etags.keys.sorted().map {
                "<Part><PartNumber>\($0)</PartNumber><ETag>\(XMLTags.escape(etags[$0]!))</ETag></Part>"
            }.joined()
            let body = Data("<CompleteMultipartUpload>\(parts)</CompleteMultipartUpload>".utf8)
            let completed = try await sender.send("POST", objectPath(key), query: [("uploadId", uploadID)], body: body)
            // S3 may answer 200 with an error document for a completion that failed.
            let text = String(decoding: completed.body, as: UTF8.self)
            if let code = XMLTags.first("Code", in: text) {
                throw AWSError(status: completed.status, code: code, message: XMLTags.first("Message", in: text) ?? "")
            }
        } catch {
            _ = try? await sender.send("DELETE", objectPath(key), query: [("uploadId", uploadID)])
            throw error
        }
        return (size, hasher.finalizeHex())
    }

    // MARK: Reading

    func manifestData(_ base: String) async throws -> Data? {
        do {
            return try await sender.send("GET", objectPath("\(base)/\(CheckpointManifest.fileName)")).body
        } catch let error as AWSError where error.status == 404 {
            return nil
        }
    }

    /// Every key under `prefix/JOB/`, relative to it.
    func keys(job: String) async throws -> [String] {
        let base = "\(try jobKey(job))/"
        var keys: [String] = []
        var token: String?
        repeat {
            var query = [("list-type", "2"), ("prefix", base)]
            if let token { query.append(("continuation-token", token)) }
            let response = try await sender.send("GET", "/\(bucket)", query: query)
            let text = String(decoding: response.body, as: UTF8.self)
            keys += XMLTags.all("Key", in: text).map { String($0.dropFirst(base.count)) }
            token =
                XMLTags.first("IsTruncated", in: text) == "true"
                ? XMLTags.first("NextContinuationToken", in: text) : nil
        } while token != nil
        return keys
    }

    public func committedSteps(job: String) async throws -> [Int] {
        try await keys(job: job).compactMap { key -> Int? in
            let parts = key.split(separator: "/")
            guard parts.count == 2, parts[1] == CheckpointManifest.fileName else { return nil }
            return LocalCheckpointStore.step(ofDirectory: String(parts[0]))
        }.sorted()
    }

    public func restore(job: String, atMost: Int?, into directory: URL) async throws -> RestoreResult {
        let base = try jobKey(job)
        return try await restoreNewestVerified(job: job, atMost: atMost, into: directory) { name in
            try await fetch(base: "\(base)/\(name)", into: directory, expectedDigest: nil)
        }
    }

    /// Reads a manifest and every file it lists (into `directory`, or only hashing when nil),
    /// checking sizes and hashes (and the manifest's digest when given).
    func fetch(base: String, into directory: URL?, expectedDigest: String?) async throws -> (CheckpointManifest, String)
    {
        guard let data = try await manifestData(base) else {
            throw CheckpointError.unreadableManifest("no \(CheckpointManifest.fileName) under s3://\(bucket)/\(base)")
        }
        let digest = AWSSigner.sha256Hex(data)
        if let expectedDigest, digest != expectedDigest {
            throw CheckpointError.manifestDigestMismatch(expected: expectedDigest, found: digest)
        }
        let manifest = try LocalCheckpointStore.decodeManifest(data)
        let fm = FileManager.default
        if let directory {
            if fm.fileExists(atPath: directory.path) { try fm.removeItem(at: directory) }
            try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        }
        for entry in manifest.files {
            guard CheckpointManifest.isSafe(entry.path) else { throw CheckpointError.unsafePath(entry.path) }
            let target = directory?.appendingPathComponent(entry.path)
            if let target {
                try fm.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            }
            let got: (bytes: Int64, sha256: String)
            do {
                if let target, entry.size > Int64(partBytes), downloadParts > 1 {
                    got = try await downloadInParts(
                        "\(base)/\(entry.path)", path: entry.path, size: entry.size, to: target)
                } else {
                    got = try await sender.download(objectPath("\(base)/\(entry.path)"), to: target)
                }
            } catch let error as AWSError where error.status == 404 {
                throw CheckpointError.missingFile(entry.path)
            }
            guard got.bytes == entry.size else {
                throw CheckpointError.sizeMismatch(path: entry.path, expected: entry.size, found: got.bytes)
            }
            guard got.sha256 == entry.sha256 else {
                throw CheckpointError.hashMismatch(path: entry.path, expected: entry.sha256, found: got.sha256)
            }
        }
        return (manifest, digest)
    }

    public func verify(location: String, manifestDigest: String) async throws -> CheckpointManifest {
        let parts = location.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2, CheckpointManifest.isSafe(location) else { throw CheckpointError.unsafePath(location) }
        return try await fetch(
            base: "\(try jobKey(parts[0]))/\(parts[1])", into: nil, expectedDigest: manifestDigest
        ).0
    }

    // MARK: Retention

    public func collectGarbage(job: String, keepLast: Int) async throws -> GarbageCollection {
        let keys = try await keys(job: job)
        var byDirectory: [String: [String]] = [:]
        for key in keys {
            guard let slash = key.firstIndex(of: "/") else { continue }
            byDirectory[String(key[..<slash]), default: []].append(key)
        }
        let committed = byDirectory.filter { $0.value.contains("\($0.key)/\(CheckpointManifest.fileName)") }
            .keys.compactMap(LocalCheckpointStore.step(ofDirectory:)).sorted()
        let doomed = Array(committed.dropLast(max(1, keepLast)))
        let kept = Set(committed.dropFirst(doomed.count).map(LocalCheckpointStore.directoryName(step:)))
        let base = try jobKey(job)
        var uncommitted: [String] = []
        for (directory, files) in byDirectory {
            guard let step = LocalCheckpointStore.step(ofDirectory: directory), !kept.contains(directory) else {
                continue
            }
            let hasParts = files.contains { GangCheckpoint.isPartFile(String($0.dropFirst(directory.count + 1))) }
            if step > committed.last ?? -1, hasParts { continue }
            let isCommitted = files.contains("\(directory)/\(CheckpointManifest.fileName)")
            // The manifest goes first, so a half-deleted checkpoint is never taken for a committed one.
            for key in files.sorted(by: { a, _ in a.hasSuffix(CheckpointManifest.fileName) }) {
                _ = try await sender.send("DELETE", objectPath("\(base)/\(key)"))
            }
            if !isCommitted { uncommitted.append(directory) }
        }
        return GarbageCollection(removedCommitted: doomed, removedUncommitted: uncommitted.sorted())
    }
}
