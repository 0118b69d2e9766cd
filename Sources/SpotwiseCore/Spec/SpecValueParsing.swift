import Foundation

/// Parsers for the small textual languages inside a job spec. Each returns nil on anything
/// outside its grammar; the caller reports what was found and what is allowed.
public enum SpecValueParsing {
    static let durationGrammar = "a duration like 36h, 90m, 1h30m, 2d or 45s"
    static let deadlineGrammar = "\(durationGrammar) (from submission), or an RFC 3339 time like 2026-12-01T18:00:00Z"

    /// `36h`, `90m`, `1h30m`, `2d`, `0.5h`, `45s`: a sequence of number-unit pairs, each unit once,
    /// largest first. Returns seconds.
    static func durationSeconds(_ text: String) -> Double? {
        let units: [(Character, Double)] = [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)]
        var remaining = Substring(text)
        var total = 0.0
        var nextUnitIndex = 0
        guard !remaining.isEmpty else { return nil }
        while !remaining.isEmpty {
            let digits = remaining.prefix { $0.isASCIIDigit || $0 == "." }
            guard !digits.isEmpty, digits.first != ".", digits.last != ".",
                digits.filter({ $0 == "." }).count <= 1, let amount = Double(digits)
            else { return nil }
            remaining = remaining.dropFirst(digits.count)
            guard let unit = remaining.first,
                let index = units[nextUnitIndex...].firstIndex(where: { $0.0 == unit })
            else { return nil }
            total += amount * units[index].1
            nextUnitIndex = index + 1
            remaining = remaining.dropFirst()
            if nextUnitIndex == units.count && !remaining.isEmpty { return nil }
        }
        return total
    }

    /// RFC 3339 with a time zone, with or without fractional seconds (`RFC3339`, not ICU).
    static func rfc3339(_ text: String) -> Date? {
        RFC3339.dateTime(text)
    }

    static let memoryGrammar = "a size like 64GB, 512MiB or 1.5TB (a bare number means GB)"

    /// `64GB`, `16Gi`, `512MiB`, `1.5TB`, or a bare number of gigabytes. Returns bytes.
    static func memoryBytes(_ text: String) -> Int64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let number = trimmed.prefix { $0.isASCIIDigit || $0 == "." }
        guard !number.isEmpty, let amount = Double(number), amount > 0 else { return nil }
        let unit = trimmed.dropFirst(number.count).trimmingCharacters(in: .whitespaces)
        let multipliers: [String: Double] = [
            "": 1e9, "K": 1e3, "KB": 1e3, "M": 1e6, "MB": 1e6, "G": 1e9, "GB": 1e9, "T": 1e12, "TB": 1e12,
            "Ki": 1024, "KiB": 1024, "Mi": 1_048_576, "MiB": 1_048_576, "Gi": 1_073_741_824,
            "GiB": 1_073_741_824, "Ti": 1_099_511_627_776, "TiB": 1_099_511_627_776,
        ]
        guard let multiplier = multipliers[unit] else { return nil }
        let bytes = amount * multiplier
        guard bytes >= 1, bytes < 9.0e18 else { return nil }
        return Int64(bytes)
    }

    static let storageGrammar =
        "file://PATH or s3://BUCKET/PREFIX; PATH is \(LocalPathRule.allowed); PREFIX has no '..' or empty components"

    /// Why a storage URL or workdir is refused, in words.
    struct Refusal: Error, Equatable {
        var problem: String
    }

    /// `file://checkpoints`, `file:///data/ckpt`, `s3://bucket/some/prefix`. A `file://` PATH
    /// follows `LocalPathRule`.
    static func checkpointStorage(_ text: String) -> Result<CheckpointStorage, Refusal> {
        if text.hasPrefix("file://") {
            let path = String(text.dropFirst("file://".count))
            if let problem = LocalPathRule.problem(with: path) { return .failure(Refusal(problem: problem)) }
            return .success(.file(path: path))
        }
        if text.hasPrefix("s3://") {
            let rest = text.dropFirst("s3://".count)
            let parts = rest.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            let bucket = String(parts[0])
            guard isValidBucketName(bucket) else {
                return .failure(Refusal(problem: "'\(bucket)' is not a valid S3 bucket name"))
            }
            var prefix = parts.count == 2 ? String(parts[1]) : ""
            while prefix.hasSuffix("/") { prefix.removeLast() }
            guard prefix.isEmpty || isSafeRelativeOrAbsolutePath(prefix), !prefix.hasPrefix("/") else {
                return .failure(Refusal(problem: "the prefix has a '..' or empty component"))
            }
            return .success(.s3(bucket: bucket, prefix: prefix))
        }
        return .failure(Refusal(problem: "the scheme is neither file:// nor s3://"))
    }

    static let workdirGrammar = "'.' (the default: the worker's job root) or \(LocalPathRule.allowed)"

    /// Why a `workdir` is refused, or nil: `.` or a path `LocalPathRule` allows.
    static func workdirProblem(_ workdir: String) -> String? {
        workdir == "." ? nil : LocalPathRule.problem(with: workdir)
    }

    /// No `..` or empty components (other than a leading `/`), no NUL.
    static func isSafeRelativeOrAbsolutePath(_ path: String) -> Bool {
        guard !path.contains("\0") else { return false }
        let components = path.split(separator: "/", omittingEmptySubsequences: false)
        for (index, component) in components.enumerated() {
            if component == ".." { return false }
            if component.isEmpty && !(index == 0 && path.hasPrefix("/")) && index != components.count - 1 {
                return false
            }
        }
        return true
    }

    /// S3's bucket naming rules: 3-63 of lowercase letters, digits, dots and hyphens, starting and
    /// ending with a letter or digit.
    static func isValidBucketName(_ name: String) -> Bool {
        guard (3...63).contains(name.count), let first = name.first, let last = name.last else { return false }
        let allowed = name.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "." || $0 == "-" }
        return allowed && (first.isLowercase || first.isNumber) && (last.isLowercase || last.isNumber)
            && !name.contains("..")
    }

    static let nameGrammar = "1-63 lowercase letters, digits and hyphens, starting and ending with a letter or digit"

    /// A DNS label: what SageMaker, Vertex and Kubernetes all accept as a job name.
    static func isValidName(_ name: String) -> Bool {
        guard (1...63).contains(name.count), let first = name.first, let last = name.last else { return false }
        let isAllowed: (Character) -> Bool = { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }
        return name.allSatisfy(isAllowed) && first != "-" && last != "-"
    }

    public static let modelNameGrammar = "1-128 letters, digits, '.', '_' and '-', starting with a letter or digit"

    public static func isValidModelName(_ name: String) -> Bool {
        guard (1...128).contains(name.count), let first = name.first, first.isASCII, first.isLetter || first.isNumber
        else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
    }

    static let envKeyGrammar = "letters, digits and '_', not starting with a digit, and not SPOTWISE_* (reserved)"

    static func isValidEnvKey(_ key: String) -> Bool {
        guard let first = key.first, first.isASCII, first.isLetter || first == "_" else { return false }
        return key.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
            && !key.uppercased().hasPrefix("SPOTWISE_")
    }

    static let tagKeyGrammar = "1-63 letters, digits, '.', '_', '/' and '-'"

    static func isValidTagKey(_ key: String) -> Bool {
        (1...63).contains(key.count)
            && key.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._/-".contains($0)) }
    }

    static let regionGrammar = "a region or zone name of lowercase letters, digits and hyphens, like us-east-1"

    static func isValidRegion(_ region: String) -> Bool {
        guard (1...64).contains(region.count) else { return false }
        return region.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }
    }
}
