import Coordinator

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The process's limit on open files. A coordinator holds one descriptor per connection, so the
/// usual soft limit of 1,024 let 1,100 slow clients make `/health` unreachable (issue 14): the
/// coordinator raises it to the hard limit at start and keeps its connection cap below it.
enum OpenFileLimit {
    /// Raises the soft limit to the hard one; returns the soft limit now in force.
    @discardableResult
    static func raiseToHardLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1_024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return limit.rlim_cur > rlim_t(Int32.max) ? Int(Int32.max) : Int(limit.rlim_cur)
    }

    /// Connections the server may hold with `openFiles` descriptors: a reserve of 256 stays for
    /// the database, checkpoints, logs and outbound calls.
    static func connectionCap(openFiles: Int) -> Int {
        max(64, min(ConnectionLimits().maxConnections, openFiles - 256))
    }
}
