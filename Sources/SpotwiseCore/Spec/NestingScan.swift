extension InputLimits {
    /// Where the nesting of a JSON text first goes deeper than `limit` (line and column, from 1),
    /// or nil if it never does. A byte scan of `[` and `{` outside strings, so that a body of a
    /// million brackets is refused without a decoder recursing into it. (Job specs, YAML or JSON,
    /// are measured by the spec parser on libyaml's events: `YAMLExpansionCheck`.)
    public static func jsonNestingBeyond(_ limit: Int, in bytes: some Sequence<UInt8>) -> (line: Int, column: Int)? {
        var scan = JSONNestingScan()
        for byte in bytes where scan.read(byte) > limit {
            return (scan.line, scan.column)
        }
        return nil
    }
}

/// The nesting depth of a JSON text, a byte at a time.
struct JSONNestingScan {
    private(set) var depth = 0
    private(set) var line = 1
    /// In characters: UTF-8 continuation bytes do not count.
    private(set) var column = 0
    private var inString = false
    private var escaped = false

    /// Reads one byte; returns the depth after it.
    mutating func read(_ byte: UInt8) -> Int {
        if byte == UInt8(ascii: "\n") {
            line += 1
            column = 0
        } else if byte & 0xC0 != 0x80 {
            column += 1
        }
        if inString {
            if escaped {
                escaped = false
            } else if byte == UInt8(ascii: "\\") {
                escaped = true
            } else if byte == UInt8(ascii: "\"") {
                inString = false
            }
            return depth
        }
        switch byte {
        case UInt8(ascii: "\""): inString = true
        case UInt8(ascii: "["), UInt8(ascii: "{"): depth += 1
        case UInt8(ascii: "]"), UInt8(ascii: "}"): depth = max(0, depth - 1)
        default: break
        }
        return depth
    }
}
