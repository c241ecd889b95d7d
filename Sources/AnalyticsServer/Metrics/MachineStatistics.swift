/// The machine's load, memory and network totals, from /proc, for the
/// original's families (memory in KiB, as it reported it).
struct MachineStatistics: Equatable {
    var loadAverageOne = 0.0
    var loadAverageFive = 0.0
    var loadAverageFifteen = 0.0
    var memoryTotalKiB = 0
    var memoryUsedKiB = 0
    var swapTotalKiB = 0
    var swapUsedKiB = 0
    var networkReceivedBytes = 0
    var networkSentBytes = 0

    /// What /proc offers; a file that cannot be read leaves its fields at 0.
    static func read() -> MachineStatistics {
        var statistics = MachineStatistics()
        if let load = ProcFile.read("/proc/loadavg").flatMap(parse(loadavg:)) {
            (statistics.loadAverageOne, statistics.loadAverageFive, statistics.loadAverageFifteen) = load
        }
        if let meminfo = ProcFile.read("/proc/meminfo") { statistics.apply(meminfo: meminfo) }
        if let netDev = ProcFile.read("/proc/net/dev") {
            (statistics.networkReceivedBytes, statistics.networkSentBytes) = parse(netDev: netDev)
        }
        return statistics
    }

    /// "0.52 0.58 0.59 2/345 12345": the first three fields.
    static func parse(loadavg: String) -> (one: Double, five: Double, fifteen: Double)? {
        let fields = loadavg.split(separator: " ")
        guard fields.count >= 3, let one = Double(fields[0]), let five = Double(fields[1]),
              let fifteen = Double(fields[2]) else { return nil }
        return (one, five, fifteen)
    }

    /// Used memory is total less MemAvailable (what programs could still get
    /// without swapping), the kernel's own estimate since Linux 3.14.
    mutating func apply(meminfo: String) {
        var kib: [Substring: Int] = [:]
        for line in meminfo.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let value = line[line.index(after: colon)...].split(separator: " ").first.flatMap { Int($0) }
            kib[line[..<colon]] = value
        }
        memoryTotalKiB = kib["MemTotal"] ?? 0
        memoryUsedKiB = memoryTotalKiB - (kib["MemAvailable"] ?? kib["MemFree"] ?? 0)
        swapTotalKiB = kib["SwapTotal"] ?? 0
        swapUsedKiB = swapTotalKiB - (kib["SwapFree"] ?? 0)
    }

    /// Sums received and sent bytes over every interface of /proc/net/dev
    /// ("  eth0: rx_bytes rx_packets … tx_bytes …", tx_bytes the 9th field),
    /// loopback included: the machine's totals as the kernel counts them.
    static func parse(netDev: String) -> (received: Int, sent: Int) {
        var received = 0
        var sent = 0
        for line in netDev.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue } // the two header lines
            let fields = line[line.index(after: colon)...].split(separator: " ")
            guard fields.count >= 9, let rx = Int(fields[0]), let tx = Int(fields[8]) else { continue }
            received += rx
            sent += tx
        }
        return (received, sent)
    }
}

extension MachineStatistics {
    static let loadOne = MetricFamily(.gauge, "load_avg_one", help: "The machine's load average over 1 minute.")
    static let loadFive = MetricFamily(.gauge, "load_avg_five", help: "The machine's load average over 5 minutes.")
    static let loadFifteen = MetricFamily(.gauge, "load_avg_fifteen", help: "The machine's load average over 15 minutes.")
    static let memoryTotal = MetricFamily(.gauge, "total_mem", help: "The machine's memory in KiB.")
    static let memoryUsed = MetricFamily(.gauge, "used_mem", help: "The machine's memory in use in KiB (total less available).")
    static let swapTotal = MetricFamily(.gauge, "total_swap", help: "The machine's swap space in KiB.")
    static let swapUsed = MetricFamily(.gauge, "used_swap", help: "The machine's swap space in use in KiB.")
    static let received = MetricFamily(.untyped, "bytes_received", help: "Bytes received by the machine on all its network interfaces.")
    static let sent = MetricFamily(.untyped, "bytes_sent", help: "Bytes sent by the machine on all its network interfaces.")

    func record(into readings: inout MetricReadings) {
        readings.record(Self.loadOne, loadAverageOne)
        readings.record(Self.loadFive, loadAverageFive)
        readings.record(Self.loadFifteen, loadAverageFifteen)
        readings.record(Self.memoryTotal, memoryTotalKiB)
        readings.record(Self.memoryUsed, memoryUsedKiB)
        readings.record(Self.swapTotal, swapTotalKiB)
        readings.record(Self.swapUsed, swapUsedKiB)
        readings.record(Self.received, networkReceivedBytes)
        readings.record(Self.sent, networkSentBytes)
    }
}
