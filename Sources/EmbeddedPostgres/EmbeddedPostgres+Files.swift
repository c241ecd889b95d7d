// EmbeddedPostgres: where a cluster keeps its files, and the
// path arithmetic and directory making behind that.
import Foundation
import Glibc

extension EmbeddedPostgres {
    /// Where one cluster keeps its files.
    struct ClusterFiles {
        static let settingsFileName = "tetcore.conf"
        /// Socket directories that do not fit inside the data directory go here.
        static let sharedSocketRoot = "/tmp/tetcore-pg-"
        /// A Unix socket's path must fit sockaddr_un.sun_path with its NUL.
        static let maxSocketPathBytes = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1

        let dataDirectory: String

        var versionFile: String { dataDirectory + "/PG_VERSION" }
        var postmasterPidFile: String { dataDirectory + "/postmaster.pid" }
        var mainConfigFile: String { dataDirectory + "/postgresql.conf" }
        var settingsFile: String { dataDirectory + "/" + ClusterFiles.settingsFileName }
        /// Beside the data directory, so that it outlives a re-created cluster.
        var logFile: String { ClusterPaths.parent(dataDirectory) + "/postgres.log" }

        /// `<data>/run` when its socket path fits (and the path needs no quoting
        /// in postgresql.conf), else a directory in /tmp named by a hash of the
        /// data directory: the same one on every start, another per cluster.
        var socketDirectory: String {
            let inside = dataDirectory + "/run"
            let socketPath = "\(inside)/.s.PGSQL.\(EmbeddedPostgres.port)"
            let needsQuoting = inside.contains { "'\",\\\n".contains($0) }
            if socketPath.utf8.count <= ClusterFiles.maxSocketPathBytes && !needsQuoting { return inside }
            return ClusterFiles.sharedSocketRoot + ClusterPaths.fingerprint(dataDirectory)
        }
    }

    /// The first lines of a running server's postmaster.pid.
    struct PostmasterFile {
        let pid: pid_t
        let port: Int
        let socketDirectory: String

        /// Line 1 is the PID, line 4 the port, line 5 the first socket directory.
        init(path: String) throws {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw EmbeddedPostgresError.filesystem(path: path, reason: "the running server left no postmaster.pid")
            }
            let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            guard lines.count >= 5, let pid = pid_t(lines[0].trimmingCharacters(in: .whitespaces)),
                  let port = Int(lines[3].trimmingCharacters(in: .whitespaces)), !lines[4].isEmpty else {
                throw EmbeddedPostgresError.filesystem(path: path, reason: "no PID, port and socket directory in it")
            }
            self.pid = pid
            self.port = port
            socketDirectory = String(lines[4])
        }
    }

    /// Path arithmetic and directory making.
    enum ClusterPaths {
        /// `path` made absolute against `base` (the working directory by
        /// default), with `.` and `..` removed.
        static func absolute(_ path: String, base: String = FileManager.default.currentDirectoryPath) -> String {
            let baseURL = URL(fileURLWithPath: base, isDirectory: true)
            return URL(fileURLWithPath: path, relativeTo: baseURL).standardizedFileURL.path
        }

        static func parent(_ path: String) -> String {
            (path as NSString).deletingLastPathComponent
        }

        /// `/`, `/a`, `/a/b` for `/a/b`: every directory on the way, outermost first.
        static func ancestors(of path: String) -> [String] {
            var result: [String] = []
            var current = path
            while true {
                result.append(current)
                let up = parent(current)
                if up == current || up.isEmpty { break }
                current = up
            }
            return result.reversed()
        }

        /// `path`, or its closest parent that exists.
        static func nearestExisting(_ path: String) -> String {
            ancestors(of: path).last { FileManager.default.fileExists(atPath: $0) } ?? "/"
        }

        /// A stable 16-hex-digit name for a path (64-bit FNV-1a; Swift's
        /// hashValue changes from one run to the next).
        static func fingerprint(_ path: String) -> String {
            let hash = path.utf8.reduce(UInt64(0xcbf2_9ce4_8422_2325)) { ($0 ^ UInt64($1)) &* 0x0000_0100_0000_01b3 }
            let digits = String(hash, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }

        /// Makes `path` and its missing parents with the usual permissions.
        static func makeDirectory(_ path: String) throws {
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            } catch {
                throw EmbeddedPostgresError.filesystem(path: path, reason: "cannot create it: \(error)")
            }
        }

        /// Makes `path` (its parent exists) with mode 0700, or sets 0700 on it.
        static func makePrivateDirectory(_ path: String) throws {
            if mkdir(path, 0o700) != 0 && errno != EEXIST || chmod(path, 0o700) != 0 {
                throw EmbeddedPostgresError.filesystem(path: path, reason: String(cString: strerror(errno)))
            }
        }

        static func ownerID(of path: String) throws -> uid_t {
            var info = stat()
            guard lstat(path, &info) == 0 else {
                throw EmbeddedPostgresError.filesystem(path: path, reason: String(cString: strerror(errno)))
            }
            return info.st_uid
        }
    }
}
