import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Every path the local store writes, reads, verifies or lists is resolved under the store's real
/// root (its own symlinks resolved: the operator chose it) and walked one component at a time with
/// `lstat`: a job, step or middle directory must be a directory, never a symlink, and a file a
/// manifest lists must be a regular file with one link. So nothing in the store leads out of it.
/// Files are opened with `O_NOFOLLOW` as well; a store whose directories are swapped while it is
/// being read by someone with write access to it is beyond what this walk promises.
extension LocalCheckpointStore {
    /// Steps a checkpoint may have: they name `step-NNNNNNNNNN/` directories of ten digits.
    public static let validSteps = 0...Int(Int32.max)

    /// The directory name of checkpoint `step`, refusing a step outside `validSteps`.
    static func checkpointDirectoryName(step: Int) throws -> String {
        guard validSteps.contains(step) else { throw CheckpointError.invalidStep(step) }
        return directoryName(step: step)
    }

    /// `url` with the symlinks of its longest existing ancestor resolved and the rest (which does
    /// not exist yet) appended: where a path would be written.
    public static func resolvedPath(of url: URL) -> String {
        var existing = url.standardizedFileURL
        var rest: [String] = []
        while true {
            if let resolved = realpath(existing.path, nil) {
                defer { free(resolved) }
                return ([String(cString: resolved)] + rest.reversed()).joined(separator: "/")
                    .replacingOccurrences(of: "//", with: "/")
            }
            guard existing.path != "/" else { return url.standardizedFileURL.path }
            rest.append(existing.lastPathComponent)
            existing.deleteLastPathComponent()
        }
    }

    /// The root with its symlinks resolved; nil when it does not exist and `creating` is false.
    func realRoot(creating: Bool) throws -> URL? {
        if creating {
            do {
                try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
            } catch {
                throw CheckpointError.io(
                    "cannot create the checkpoint root \(root.path): \(error.localizedDescription)")
            }
        }
        guard let resolved = realpath(root.path, nil) else {
            if errno == ENOENT, !creating { return nil }
            throw CheckpointError.io("cannot resolve the checkpoint root \(root.path): \(Self.errnoText())")
        }
        defer { free(resolved) }
        let path = String(cString: resolved)
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw CheckpointError.notADirectory(root.path)
        }
        return URL(fileURLWithPath: path, isDirectory: true)
    }

    /// `components` below the real root, each one a directory and not a symlink, created (0755)
    /// when `creating`; nil when one is missing and `creating` is false.
    func confinedDirectory(_ components: [String], creating: Bool) throws -> URL? {
        guard var current = try realRoot(creating: creating) else { return nil }
        for (index, component) in components.enumerated() {
            guard CheckpointManifest.isSafeName(component) else {
                throw CheckpointError.unsafePath(component)
            }
            current = current.appendingPathComponent(component, isDirectory: true)
            let shown = components[...index].joined(separator: "/")
            var info = stat()
            if lstat(current.path, &info) != 0 {
                guard errno == ENOENT else {
                    throw CheckpointError.io("cannot read \(current.path): \(Self.errnoText())")
                }
                guard creating else { return nil }
                guard mkdir(current.path, 0o755) == 0 || errno == EEXIST, lstat(current.path, &info) == 0 else {
                    throw CheckpointError.io("cannot create \(current.path): \(Self.errnoText())")
                }
            }
            try Self.requireDirectory(info, shown)
        }
        return current
    }

    static func requireDirectory(_ info: stat, _ shown: String) throws {
        switch info.st_mode & S_IFMT {
        case S_IFDIR: return
        case S_IFLNK: throw CheckpointError.symlinkInStore(shown)
        default: throw CheckpointError.notADirectory(shown)
        }
    }

    /// A regular file with one link (a symlink, device, directory or hard link is refused).
    static func requireSingleLinkFile(_ info: stat, _ shown: String) throws {
        guard info.st_mode & S_IFMT == S_IFREG else { throw CheckpointError.notARegularFile(shown) }
        guard info.st_nlink == 1 else { throw CheckpointError.hardLink(shown, links: Int(info.st_nlink)) }
    }

    /// Whether `name` inside `directory` exists; throws when it is there but is not a directory
    /// (a symlink is refused, not followed).
    static func existingDirectory(_ name: String, in directory: URL, shown: String) throws -> URL? {
        let url = directory.appendingPathComponent(name, isDirectory: true)
        var info = stat()
        guard lstat(url.path, &info) == 0 else {
            guard errno == ENOENT else { throw CheckpointError.io("cannot read \(url.path): \(errnoText())") }
            return nil
        }
        try requireDirectory(info, shown)
        return url
    }

    /// The file `relative` (a manifest's path) inside checkpoint directory `directory`: every
    /// directory on the way is a real directory and the file a single-link regular file.
    static func confinedFile(_ relative: String, in directory: URL) throws -> (url: URL, size: Int64) {
        guard CheckpointManifest.isSafe(relative) else { throw CheckpointError.unsafePath(relative) }
        let components = relative.split(separator: "/").map(String.init)
        var current = directory
        var info = stat()
        for (index, component) in components.enumerated() {
            current = current.appendingPathComponent(component)
            guard lstat(current.path, &info) == 0 else { throw CheckpointError.missingFile(relative) }
            if index < components.count - 1 {
                try requireDirectory(info, components[...index].joined(separator: "/"))
            }
        }
        try requireSingleLinkFile(info, relative)
        return (current, Int64(info.st_size))
    }

    /// The contents of a file the store wrote (a manifest, a part file); nil when it is absent. A
    /// symlink or anything but a single-link regular file is refused.
    static func readStoreFile(_ url: URL, shown: String) throws -> Data? {
        var info = stat()
        guard lstat(url.path, &info) == 0 else {
            guard errno == ENOENT else { throw CheckpointError.io("cannot read \(url.path): \(errnoText())") }
            return nil
        }
        try requireSingleLinkFile(info, shown)
        let fd = open(url.path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw CheckpointError.io("cannot read \(url.path): \(errnoText())") }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        do {
            return try handle.readToEnd() ?? Data()
        } catch {
            throw CheckpointError.io("cannot read \(url.path): \(error.localizedDescription)")
        }
    }

    /// Step directories of a job that are there but are not real directories (symlinks), with
    /// why they are refused: a restore reports them among what it skipped.
    static func refusedStepEntries(in jobDirectory: URL, job: String) -> [(step: Int, reason: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: jobDirectory.path)) ?? []
        return names.compactMap { name in
            guard let step = step(ofDirectory: name) else { return nil }
            var info = stat()
            guard lstat(jobDirectory.appendingPathComponent(name).path, &info) == 0 else { return nil }
            do {
                try requireDirectory(info, "\(job)/\(name)")
                return nil
            } catch {
                return (step, "\(error)")
            }
        }
    }
}
