/// Which local paths a job may name: its `workdir` and the PATH of `checkpoint.storage: file://PATH`.
/// The one statement of the rule: the spec parser applies it to what a spec says, the worker agent
/// and the CLI to the path as resolved on the machine (symlinks followed), and docs/job-spec.md and
/// docs/job-spec.schema.json say the same.
///
/// A path is relative (to the worker's `--job-root`) or absolute, and
/// - has no empty (`//`), `.` or `..` component (a trailing `/` aside);
/// - has no `%` (nothing percent-decodes it: `%2e%2e` would be a name here and `..` to a reader
///   that decodes), no `\`, no control character, and does not begin with `~` (nothing expands it);
/// - when absolute, is not a system directory or under one (`systemTrees`), and not a top-level
///   directory itself (`topLevels`: name a directory below one, such as `/data/ckpt` or `/srv/jobs`).
public enum LocalPathRule {
    /// Linux system directories: neither they nor anything under them may be a workdir or a store.
    public static let systemTrees = [
        "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/run", "/sbin", "/sys",
        "/usr", "/var/cache", "/var/lib", "/var/log", "/var/mail", "/var/run", "/var/spool",
    ]
    /// Directories that may hold a workdir or store below them but are not one themselves.
    public static let topLevels = ["/", "/home", "/media", "/mnt", "/opt", "/root", "/srv", "/tmp", "/var", "/var/tmp"]

    /// What is allowed, in words, for error messages.
    public static let allowed =
        "a path relative to the worker's job root, or an absolute one that is not a system directory (/bin /boot /dev /etc /lib* /proc /run /sbin /sys /usr /var/{cache,lib,log,mail,run,spool}) nor a top-level one (/ /home /media /mnt /opt /root /srv /tmp /var /var/tmp); no '.', '..' or empty components, no '%', '\\', control characters or leading '~'"

    /// Why `path` is refused, or nil when it is allowed.
    public static func problem(with path: String) -> String? {
        if path.isEmpty { return "the path is empty" }
        if path.contains("%") { return "'%' is not allowed (paths are never percent-decoded)" }
        if path.contains("\\") { return "'\\' is not allowed" }
        if path.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            return "control characters are not allowed"
        }
        if path.hasPrefix("~") { return "a leading '~' is not expanded; give the path itself" }
        if path == "/" { return problem(withAbsolute: path) }
        let body = path.hasSuffix("/") ? String(path.dropLast()) : path
        let absolute = body.hasPrefix("/")
        for component in body.dropFirst(absolute ? 1 : 0).split(separator: "/", omittingEmptySubsequences: false) {
            switch component {
            case "": return "empty path components ('//') are not allowed"
            case ".": return "'.' components are not allowed"
            case "..": return "'..' components are not allowed"
            default: continue
            }
        }
        return absolute ? problem(withAbsolute: body) : nil
    }

    /// Why a path a job declared is refused on the machine, given where it resolves with its
    /// symlinks followed: a relative path must stay inside the (resolved) job root, an absolute
    /// one must resolve outside the system directories.
    public static func problem(declared: String, resolved: String, resolvedJobRoot: String) -> String? {
        if declared != ".", let problem = problem(with: declared) { return problem }
        if declared.hasPrefix("/") {
            return problem(withAbsolute: resolved).map { "\(declared) resolves to \(resolved): \($0)" }
        }
        guard resolved == resolvedJobRoot || resolved.hasPrefix(resolvedJobRoot + "/") else {
            return
                "\(declared) resolves to \(resolved), outside the job root \(resolvedJobRoot) (a symlink leads out of it)"
        }
        return nil
    }

    /// Why an absolute path (as given, or as resolved with its symlinks followed) is refused.
    public static func problem(withAbsolute path: String) -> String? {
        let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        if let tree = systemTrees.first(where: { trimmed == $0 || trimmed.hasPrefix($0 + "/") }) {
            return trimmed == tree
                ? "\(tree) is a system directory" : "\(trimmed) is under the system directory \(tree)"
        }
        if topLevels.contains(trimmed) { return "\(trimmed) is a top-level directory; name a directory below it" }
        return nil
    }
}
