/// Why the embedded PostgreSQL could not be set up or started. Every case
/// says what to do about it: the server logs the description and exits.
package enum EmbeddedPostgresError: Error, CustomStringConvertible {
    /// No directory with initdb, pg_ctl and postgres was found.
    case serverNotInstalled(searched: [String])
    /// The configured binary directory lacks some of the server programs.
    case incompleteBinDirectory(String, missing: [String])
    /// The system user that runs the cluster (as root) could not be created.
    case cannotCreateUser(String, output: String)
    /// A directory or file of the cluster could not be made or used.
    case filesystem(path: String, reason: String)
    /// As root: the cluster's user cannot reach an existing data directory
    /// because `blockedBy` (one of its parents) is closed to it.
    case unreachableDataDirectory(String, user: String, blockedBy: String)
    /// A server program failed; `output` is the tail of what it printed
    /// (and, for pg_ctl start, of the server log).
    case commandFailed(command: String, status: Int32, output: String)
    /// The running cluster did not accept a connection or a statement.
    case database(String)

    package var description: String {
        switch self {
        case .serverNotInstalled(let searched):
            return "no PostgreSQL server found (looked in \(searched.joined(separator: ", "))): "
                + "install Debian's postgresql package (apt-get install postgresql), set PG_BIN_DIR to the directory "
                + "holding initdb, pg_ctl and postgres, or set DATABASE_URL to use an existing server"
        case .incompleteBinDirectory(let directory, let missing):
            return "\(directory) has no \(missing.joined(separator: ", ")): point PG_BIN_DIR at the PostgreSQL server's "
                + "bin directory (Debian's postgresql package puts it in /usr/lib/postgresql/<version>/bin)"
        case .cannotCreateUser(let user, let output):
            return "cannot create the system user \(user) that runs PostgreSQL (it refuses to run as root): \(output)"
        case .filesystem(let path, let reason):
            return "\(path): \(reason)"
        case .unreachableDataDirectory(let directory, let user, let blockedBy):
            return "the PostgreSQL user \(user) cannot reach the data directory \(directory): \(blockedBy) is closed to it. "
                + "Move the data directory (EMBEDDED_PG_DIR) somewhere \(user) can reach, or allow it through with "
                + "chmod o+x \(blockedBy)"
        case .commandFailed(let command, let status, let output):
            return "\(command) failed (exit status \(status)):\n\(output)"
        case .database(let message):
            return "embedded PostgreSQL: \(message)"
        }
    }
}
