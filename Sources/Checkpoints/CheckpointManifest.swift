import Foundation

/// `manifest.json`: what a committed checkpoint holds. Written last, by atomic rename; a
/// checkpoint directory without it was never committed. See `checkpoints/FORMAT.md`.
public struct CheckpointManifest: Codable, Sendable, Equatable {
    public static let currentVersion = 1
    public static let fileName = "manifest.json"

    public var version: Int
    public var job: String
    public var attempt: Int
    public var step: Int
    public var createdAt: Date
    public var files: [Entry]
    /// A gang checkpoint's world size: its files are under `rank-0/` ... `rank-(N-1)/`. Nil for
    /// a single node's.
    public var worldSize: Int?

    public struct Entry: Codable, Sendable, Equatable {
        /// Relative to the checkpoint directory, `/`-separated; never absolute, never `..`.
        public var path: String
        public var size: Int64
        public var sha256: String

        public init(path: String, size: Int64, sha256: String) {
            self.path = path
            self.size = size
            self.sha256 = sha256
        }
    }

    public init(version: Int = currentVersion, job: String, attempt: Int, step: Int, createdAt: Date, files: [Entry]) {
        self.version = version
        self.job = job
        self.attempt = attempt
        self.step = step
        self.createdAt = createdAt
        self.files = files
    }

    enum CodingKeys: String, CodingKey {
        case version, job, attempt, step, files
        case createdAt = "created_at"
        case worldSize = "world_size"
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    /// Reads a `manifest.json` (from the store's disk or over the network): JSON of this
    /// version or older, or `CheckpointError.unreadableManifest` saying what is wrong.
    public static func read(_ data: Data) throws -> CheckpointManifest {
        do {
            let manifest = try decoder.decode(CheckpointManifest.self, from: data)
            guard manifest.version <= currentVersion else {
                throw CheckpointError.unreadableManifest(
                    "version \(manifest.version) is newer than this spotwise (\(currentVersion))")
            }
            return manifest
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw CheckpointError.unreadableManifest("\(error)")
        }
    }

    /// A path from a manifest (which may have come over the network) is accepted only when it is
    /// relative, has no empty, `.` or `..` component and no NUL.
    ///
    /// Checked on the UTF-8 bytes the file system sees, never on Swift's characters: a combining
    /// mark after `/` makes one character of the two, so `"../\u{351}x"` split on the character `/`
    /// has no `..` component, while the file system reads `..` and leaves the directory (found by
    /// scripts/fuzz; `Fuzz/corpus/CheckpointManifestFuzz/finding-combining-mark-slash`).
    public static func isSafe(_ path: String) -> Bool {
        let bytes = Array(path.utf8)
        guard let first = bytes.first, first != slash, !bytes.contains(0), !bytes.contains(UInt8(ascii: "\\"))
        else { return false }
        return bytes.split(separator: slash, omittingEmptySubsequences: false).allSatisfy { component in
            !component.isEmpty && !component.elementsEqual([dot]) && !component.elementsEqual([dot, dot])
        }
    }

    /// A single directory or file name: `isSafe` and no `/` byte (a `/` hidden in a character
    /// with a combining mark counts).
    public static func isSafeName(_ name: String) -> Bool {
        isSafe(name) && !name.utf8.contains(slash)
    }

    private static let slash = UInt8(ascii: "/")
    private static let dot = UInt8(ascii: ".")
}

/// Why a checkpoint could not be committed or restored.
public enum CheckpointError: Error, Equatable, Sendable, CustomStringConvertible {
    case unsafePath(String)
    case notARegularFile(String)
    case missingFile(String)
    case hashMismatch(path: String, expected: String, found: String)
    case sizeMismatch(path: String, expected: Int64, found: Int64)
    case unreadableManifest(String)
    case manifestDigestMismatch(expected: String, found: String)
    case invalidName(String)
    case io(String)
    /// A job, step or middle directory in the store is a symlink (it could lead out of the store).
    case symlinkInStore(String)
    case notADirectory(String)
    /// A file with more than one hard link: its contents could be another file's.
    case hardLink(String, links: Int)
    /// The directory a checkpoint is committed from does not exist (or is not a directory).
    case missingSource(String)
    /// A checkpoint without a file: never committed, never restored.
    case emptyCheckpoint(String)
    case invalidStep(Int)

    public var description: String {
        switch self {
        case .unsafePath(let path): "refused path '\(path)': absolute, '..' or empty components are not allowed"
        case .notARegularFile(let path): "'\(path)' is not a regular file (symlinks and devices are refused)"
        case .missingFile(let path): "'\(path)' is listed in the manifest but missing"
        case .hashMismatch(let path, let expected, let found):
            "'\(path)' is corrupt: SHA-256 \(found.prefix(12))..., the manifest says \(expected.prefix(12))..."
        case .sizeMismatch(let path, let expected, let found):
            "'\(path)' is torn: \(found) bytes, the manifest says \(expected)"
        case .unreadableManifest(let detail): "unreadable manifest: \(detail)"
        case .manifestDigestMismatch(let expected, let found):
            "the manifest changed since it was committed (SHA-256 \(found.prefix(12))..., recorded \(expected.prefix(12))...)"
        case .invalidName(let name): "'\(name)' is not a valid job name for a checkpoint directory"
        case .io(let detail): detail
        case .symlinkInStore(let path):
            "'\(path)' in the checkpoint store is a symlink; the store follows no symlink (it could lead out of the store)"
        case .notADirectory(let path): "'\(path)' in the checkpoint store is not a directory"
        case .hardLink(let path, let links):
            "'\(path)' has \(links) hard links; a checkpoint's files must be regular files with one link"
        case .missingSource(let path):
            "no checkpoint directory at \(path) (it must exist, be a directory and not a symlink, and be complete before it is announced)"
        case .emptyCheckpoint(let path):
            "\(path) holds no files: an empty checkpoint is never committed nor restored"
        case .invalidStep(let step):
            "step \(step) is out of range: a checkpoint's step is a whole number from 0 to \(Int32.max)"
        }
    }
}
