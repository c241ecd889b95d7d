import Glibc

/// Every node is a socket: a run of thousands of nodes needs more open
/// files than the usual soft limit of 1024.
package enum OpenFileLimit {
    /// Raises the soft limit to the hard one; returns the limit in force.
    @discardableResult
    package static func raiseToHard() -> UInt64 {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        return UInt64(limit.rlim_cur)
    }
}
