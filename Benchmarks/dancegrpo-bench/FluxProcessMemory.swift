import Foundation

/// This process's resident memory, in KiB. Linux only (nil elsewhere).
struct FluxProcessMemory: Codable {
    /// Resident now (`VmRSS` of /proc/self/status).
    var residentKiB: Int
    /// The address space's high-water mark (`VmHWM`): starts afresh at exec, unlike `ru_maxrss`, which a process
    /// started with posix_spawn inherits from its parent's address space.
    var highWaterKiB: Int
    /// `getrusage(RUSAGE_SELF).ru_maxrss`.
    var maxResidentKiB: Int

    static func now() -> FluxProcessMemory? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        func field(_ name: String) -> Int? {
            // "VmHWM:\t  123456 kB"
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else {
                return nil
            }
            return line.dropFirst(name.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap {
                Int($0)
            }
        }
        guard let rss = field("VmRSS"), let hwm = field("VmHWM") else { return nil }
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return FluxProcessMemory(residentKiB: rss, highWaterKiB: hwm, maxResidentKiB: Int(usage.ru_maxrss))
    }

    enum CodingKeys: String, CodingKey {
        case residentKiB = "rss_kib", highWaterKiB = "hwm_kib", maxResidentKiB = "maxrss_kib"
    }
}
