import Glibc

/// The process's own resources for the standard `process_*` families,
/// from /proc/self and getrlimit.
struct ProcessStatistics: Equatable {
    var cpuSeconds: Double
    var residentBytes: Int
    var virtualBytes: Int
    var startTimeSeconds: Double
    var openFileDescriptors: Int
    var maxFileDescriptors: Int

    static func read() -> ProcessStatistics? {
        guard let stat = ProcFile.read("/proc/self/stat"),
              let bootTime = ProcFile.read("/proc/stat").flatMap(bootTimeSeconds(procStat:)),
              var statistics = parse(stat: stat, clockTicksPerSecond: Double(sysconf(Int32(_SC_CLK_TCK))),
                                     pageSize: sysconf(Int32(_SC_PAGESIZE)), bootTimeSeconds: bootTime)
        else { return nil }
        // The directory stream's own descriptor is listed too.
        statistics.openFileDescriptors = max(0, (ProcFile.countEntries("/proc/self/fd") ?? 1) - 1)
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            statistics.maxFileDescriptors = Int(clamping: limit.rlim_cur)
        }
        return statistics
    }

    /// Parses /proc/self/stat (proc(5)): the command name is in parentheses
    /// and may itself hold spaces and parentheses, so fields are counted
    /// from the last ')'. Descriptor counts are left at 0.
    static func parse(stat: String, clockTicksPerSecond: Double, pageSize: Int, bootTimeSeconds: Double) -> ProcessStatistics? {
        guard let close = stat.lastIndex(of: ")") else { return nil }
        // fields[0] is proc(5)'s field 3 (state); field n is fields[n - 3].
        let fields = stat[stat.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count > 21, clockTicksPerSecond > 0,
              let userTicks = Double(fields[11]), let systemTicks = Double(fields[12]),
              let startTicks = Double(fields[19]), let virtualBytes = Int(fields[20]),
              let residentPages = Int(fields[21].prefix { $0 != "\n" })
        else { return nil }
        return ProcessStatistics(cpuSeconds: (userTicks + systemTicks) / clockTicksPerSecond,
                                 residentBytes: residentPages * pageSize, virtualBytes: virtualBytes,
                                 startTimeSeconds: bootTimeSeconds + startTicks / clockTicksPerSecond,
                                 openFileDescriptors: 0, maxFileDescriptors: 0)
    }

    /// The `btime` line of /proc/stat: boot time in seconds since the epoch.
    static func bootTimeSeconds(procStat: String) -> Double? {
        for line in procStat.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst("btime ".count))
        }
        return nil
    }
}

extension ProcessStatistics {
    static let cpuSeconds = MetricFamily(.counter, "process_cpu_seconds_total", help: "User and system CPU time spent by the process.",
                                         isIntegral: false)
    static let residentBytes = MetricFamily(.gauge, "process_resident_memory_bytes", help: "Resident memory of the process.")
    static let virtualBytes = MetricFamily(.gauge, "process_virtual_memory_bytes", help: "Virtual memory size of the process.")
    static let startTime = MetricFamily(.gauge, "process_start_time_seconds", help: "Start time of the process since the Unix epoch.")
    static let openFDs = MetricFamily(.gauge, "process_open_fds", help: "File descriptors the process has open.")
    static let maxFDs = MetricFamily(.gauge, "process_max_fds", help: "The process's limit of open file descriptors.")

    func record(into readings: inout MetricReadings) {
        readings.record(Self.cpuSeconds, cpuSeconds)
        readings.record(Self.residentBytes, residentBytes)
        readings.record(Self.virtualBytes, virtualBytes)
        readings.record(Self.startTime, startTimeSeconds)
        readings.record(Self.openFDs, openFileDescriptors)
        readings.record(Self.maxFDs, maxFileDescriptors)
    }
}
