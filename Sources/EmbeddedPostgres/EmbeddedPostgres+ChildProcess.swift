// EmbeddedPostgres: running one program to completion.
import Foundation
import Glibc

extension EmbeddedPostgres {
    /// One program run to completion: its exit status and combined output.
    ///
    /// posix_spawn and waitpid rather than Foundation's Process, whose
    /// waitUntilExit was seen to miss a child's exit and wait forever.
    struct ChildProcess {
        /// The exit status, or 128 + the signal that ended the program.
        let status: Int32
        let output: String

        /// The last lines of the output, for error messages.
        var tail: String { ChildProcess.lastLines(output, 20) }

        /// Runs `executable` from `/` (through `env -C /`, so that a user
        /// switched to never needs access to this process's working directory)
        /// with stdin from /dev/null and stdout and stderr into one pipe.
        static func run(_ executable: String, _ arguments: [String]) throws -> ChildProcess {
            let env = try systemTool("env")
            var ends: [Int32] = [-1, -1]
            // Close-on-exec, so that only the dup2'd copies reach the child (Glibc
            // does not offer pipe2 to Swift; nothing else spawns at start-up).
            guard pipe(&ends) == 0 else { throw failure(executable, "pipe") }
            let (readEnd, writeEnd) = (ends[0], ends[1])
            _ = fcntl(readEnd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(writeEnd, F_SETFD, FD_CLOEXEC)

            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_adddup2(&actions, writeEnd, 1)
            posix_spawn_file_actions_adddup2(&actions, writeEnd, 2)
            // The server ignores SIGPIPE and may block signals: the child (and
            // the PostgreSQL server it may start) gets the defaults back.
            var attributes = posix_spawnattr_t()
            posix_spawnattr_init(&attributes)
            defer { posix_spawnattr_destroy(&attributes) }
            var defaults = sigset_t()
            sigemptyset(&defaults)
            sigaddset(&defaults, SIGPIPE)
            var unblocked = sigset_t()
            sigemptyset(&unblocked)
            posix_spawnattr_setsigdefault(&attributes, &defaults)
            posix_spawnattr_setsigmask(&attributes, &unblocked)
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

            let argv = ([env, "-C", "/", executable] + arguments).map { strdup($0) } + [nil]
            defer { argv.forEach { free($0) } }
            var pid = pid_t()
            let spawned = posix_spawn(&pid, env, &actions, &attributes, argv, environ)
            close(writeEnd)
            guard spawned == 0 else {
                close(readEnd)
                errno = spawned
                throw failure(executable, "posix_spawn")
            }

            // Read to the end before waiting: a full pipe would block the child.
            // pg_ctl start gives the server the log file, not this pipe, so the
            // end comes when pg_ctl exits.
            var output: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = read(readEnd, &buffer, buffer.count)
                if count > 0 {
                    output += buffer[0..<count]
                } else if count == 0 || errno != EINTR {
                    break
                }
            }
            close(readEnd)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1 {
                guard errno == EINTR else { throw failure(executable, "waitpid") }
            }
            // The wait status: a signal number in the low 7 bits, else the exit
            // code in the next byte (WIFEXITED and friends are macros Swift lacks).
            let signal = status & 0x7f
            return ChildProcess(status: signal == 0 ? (status >> 8) & 0xff : 128 + signal,
                                output: String(decoding: output, as: UTF8.self))
        }

        /// The absolute path of a system program (env, runuser, useradd), which
        /// may be outside PATH for a non-login shell.
        static func systemTool(_ name: String) throws -> String {
            let directories = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
            let candidates = directories.map { "\($0)/\(name)" }
            guard let path = candidates.first(where: FileManager.default.isExecutableFile) else {
                throw EmbeddedPostgresError.filesystem(path: name,
                                                       reason: "not found in \(directories.joined(separator: ", "))")
            }
            return path
        }

        static func lastLines(_ text: String, _ count: Int) -> String {
            text.split(separator: "\n").suffix(count).joined(separator: "\n")
        }

        private static func failure(_ executable: String, _ call: String) -> EmbeddedPostgresError {
            .commandFailed(command: executable, status: -1, output: "\(call): \(String(cString: strerror(errno)))")
        }
    }
}
