import CYaml

/// Measures what a YAML text expands to before anything builds a tree from it.
///
/// An alias (`*name`) stands for a whole copy of its anchored node, so a few hundred bytes of
/// nested anchors ("billion laughs") stand for billions of nodes: a 608-byte spec with nine
/// levels exhausted a coordinator's 6 GB, and Yams hashes aliased mapping keys node by node while
/// composing. This walks libyaml's event stream once, in memory proportional to the text, and
/// counts every node as it would be after expansion (with saturating arithmetic), the aliases
/// used and the deepest nesting an expansion reaches. Syntax errors are left to the composer,
/// which reports them with line and column.
struct YAMLExpansionCheck {
    struct Limit: Error, Equatable {
        var problem: String
        var found: String
        var allowed: String
        var line: Int
        var column: Int
    }

    var maxNodes = InputLimits.maxExpandedNodes
    var maxAliases = InputLimits.maxAliases
    var maxDepth = InputLimits.maxNestingDepth

    /// What one anchored node stands for: its expanded node count and its height.
    private struct Expansion {
        var nodes: Int
        var height: Int
    }

    private struct Open {
        var anchor: String?
        var nodes = 1
        var height = 1
    }

    /// The first limit the text exceeds, or nil (also nil when libyaml cannot parse it).
    func firstExceededLimit(in bytes: [UInt8]) -> Limit? {
        guard !bytes.isEmpty else { return nil }
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return nil }
        defer { yaml_parser_delete(&parser) }
        return bytes.withUnsafeBufferPointer { buffer -> Limit? in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            return walk(&parser)
        }
    }

    private func walk(_ parser: inout yaml_parser_t) -> Limit? {
        var anchors: [String: Expansion] = [:]
        var stack: [Open] = []
        var total = 0
        var aliases = 0
        var event = yaml_event_t()

        func limit(_ problem: String, _ found: String, _ allowed: String, _ event: yaml_event_t) -> Limit {
            Limit(
                problem: problem, found: found, allowed: allowed, line: Int(event.start_mark.line) + 1,
                column: Int(event.start_mark.column) + 1)
        }
        func saturatingAdd(_ a: Int, _ b: Int) -> Int {
            let (sum, overflow) = a.addingReportingOverflow(b)
            return overflow ? Int.max : sum
        }
        /// A finished node of `nodes` nodes and `height` levels joins its parent (or the total).
        func close(nodes: Int, height: Int, anchor: String?) {
            if let anchor { anchors[anchor] = Expansion(nodes: nodes, height: height) }
            if stack.isEmpty {
                total = saturatingAdd(total, nodes)
            } else {
                stack[stack.count - 1].nodes = saturatingAdd(stack[stack.count - 1].nodes, nodes)
                stack[stack.count - 1].height = max(stack[stack.count - 1].height, height + 1)
            }
        }
        func anchorName(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
            pointer.map { String(cString: $0) }
        }

        while true {
            guard yaml_parser_parse(&parser, &event) == 1 else { return nil }
            defer { yaml_event_delete(&event) }
            switch event.type {
            case YAML_STREAM_END_EVENT:
                return nil
            case YAML_SCALAR_EVENT:
                close(nodes: 1, height: 1, anchor: anchorName(event.data.scalar.anchor))
            case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                let anchor =
                    event.type == YAML_SEQUENCE_START_EVENT
                    ? anchorName(event.data.sequence_start.anchor) : anchorName(event.data.mapping_start.anchor)
                stack.append(Open(anchor: anchor))
                if stack.count > maxDepth {
                    return limit(
                        "nested too deeply", "more than \(maxDepth) levels", "at most \(maxDepth) levels", event)
                }
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                guard let open = stack.popLast() else { return nil }
                close(nodes: open.nodes, height: open.height, anchor: open.anchor)
            case YAML_ALIAS_EVENT:
                aliases += 1
                if aliases > maxAliases {
                    return limit(
                        "too many aliases", "more than \(maxAliases) aliases (*name)",
                        "at most \(maxAliases) aliases", event)
                }
                // An undefined alias is the composer's error to report.
                guard let name = anchorName(event.data.alias.anchor), let expansion = anchors[name] else { continue }
                if stack.count + expansion.height > maxDepth {
                    return limit(
                        "nested too deeply", "alias *\(name) nests \(stack.count + expansion.height) levels",
                        "at most \(maxDepth) levels once aliases are expanded", event)
                }
                close(nodes: expansion.nodes, height: expansion.height, anchor: nil)
            default:
                continue
            }
            let expanded = saturatingAdd(total, stack.reduce(0) { saturatingAdd($0, $1.nodes) })
            if expanded > maxNodes {
                return limit(
                    "expands to too many nodes",
                    expanded == Int.max
                        ? "more than \(Int.max) nodes once aliases are expanded"
                        : "\(expanded) nodes once aliases are expanded",
                    "at most \(maxNodes) nodes (anchors and aliases included)", event)
            }
        }
    }
}
