/// Limits on what a job spec or a JSON request body may be, checked before anything builds a tree
/// from it. `spotwise validate` and the coordinator apply the same ones, so a spec that validates
/// is a spec the API takes, and a hostile one costs a scan, not a parse.
public enum InputLimits {
    /// The largest job spec in bytes: as a file for `spotwise validate` and `spotwise submit`, and as
    /// the body of `POST /v1/jobs` (the coordinator's `--max-body-bytes` may only lower it).
    public static let maxSpecBytes = 1 << 20

    /// The deepest nesting of mappings and lists in a spec or a JSON body. The outermost counts:
    /// `{}` is 1 deep, `{"a": [1]}` 2. Real specs and worker bodies stay under 10.
    public static let maxNestingDepth = 64

    /// The most nodes a YAML spec may stand for once its aliases are expanded (a real spec holds
    /// tens to hundreds; nine levels of "billion laughs" stand for a billion).
    public static let maxExpandedNodes = 100_000

    /// The most aliases (`*name`) a YAML spec may use.
    public static let maxAliases = 1_000
}
