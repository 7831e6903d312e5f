import Dispatch
import Foundation

/// How busy the machine was with other work while a phase ran: the CPU time of every process (from /proc/stat)
/// minus this process's own and its finished children's (from /proc/self/stat), in cores. On a shared machine a
/// compile running beside the benchmark halves its numbers; this makes that visible instead of silently wrong.
/// Linux only; elsewhere the phases report nothing.
struct BackgroundLoad {
    private struct Sample {
        var busyTicks: Double
        var ownTicks: Double
        var nanoseconds: UInt64
    }

    private let start: Sample?

    init() { start = Self.sample() }

    /// Average number of cores used by other processes since `init`, or nil where /proc is missing.
    func otherCores() -> Double? {
        guard let start, let end = Self.sample(), end.nanoseconds > start.nanoseconds else { return nil }
        let seconds = Double(end.nanoseconds - start.nanoseconds) / 1e9
        let others = (end.busyTicks - start.busyTicks) - (end.ownTicks - start.ownTicks)
        return max(0, others / Self.ticksPerSecond / seconds)
    }

    // USER_HZ: the unit of both files, 100 on every Linux architecture in use.
    private static let ticksPerSecond = 100.0

    private static func sample() -> Sample? {
        guard let cpu = try? String(contentsOfFile: "/proc/stat", encoding: .utf8).split(separator: "\n").first,
            let own = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8)
        else { return nil }
        // "cpu user nice system idle iowait irq softirq steal …": busy = all but idle and iowait.
        let fields = cpu.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard fields.count >= 5 else { return nil }
        let busy = fields.reduce(0, +) - fields[3] - fields[4]
        // After the parenthesised command name come field 3 (state) onwards; utime, stime, cutime and cstime are
        // fields 14-17 (proc(5)), so indices 11-14 here.
        guard let close = own.lastIndex(of: ")") else { return nil }
        let rest = own[own.index(after: close)...].split(separator: " ")
        guard rest.count >= 15 else { return nil }
        let times = rest[11...14].compactMap { Double($0) }
        guard times.count == 4 else { return nil }
        let ownTicks = times.reduce(0, +)
        return Sample(busyTicks: busy, ownTicks: ownTicks, nanoseconds: DispatchTime.now().uptimeNanoseconds)
    }
}
