import Foundation

/// The memory a rank's plan must fit: the GPU's memory under a GPU back end, else the machine's RAM.
public struct DeviceMemory: Sendable, Equatable {
    public var bytes: Int
    /// Where the number came from, for the plan's total line ("RAM, /proc/meminfo MemTotal").
    public var source: String

    public init(bytes: Int, source: String) {
        self.bytes = bytes
        self.source = source
    }

    /// Tests (and people who want to plan for a smaller machine) set the device's size in bytes here.
    public static let overrideVariable = "DANCEGRPO_DEVICE_MEMORY_BYTES"

    /// The override, else the GPU's memory, else RAM (MemTotal of /proc/meminfo, or the OS's physical memory).
    public static func current(environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> DeviceMemory
    {
        if let text = environment[overrideVariable] {
            guard let bytes = Int(text.trimmingCharacters(in: .whitespaces)), bytes > 0 else {
                throw MemoryPlanError.badOverride(variable: overrideVariable, value: text)
            }
            return DeviceMemory(bytes: bytes, source: "\(overrideVariable)")
        }
        if let gpu = gpuMemory() { return gpu }
        return try ram(meminfo: URL(fileURLWithPath: "/proc/meminfo"))
    }

    /// GPU HOOK: the CUDA back end's device memory (the GPU issue fills this in, e.g. from cudaMemGetInfo's total);
    /// nil means "no GPU back end": the plan is then checked against RAM, as the CPU back end allocates there.
    static func gpuMemory() -> DeviceMemory? { nil }

    /// MemTotal of a /proc/meminfo file ("MemTotal:       24576000 kB"), else the OS's physical memory where the
    /// file does not exist (macOS).
    public static func ram(meminfo: URL) throws -> DeviceMemory {
        guard FileManager.default.fileExists(atPath: meminfo.path) else {
            return DeviceMemory(bytes: Int(ProcessInfo.processInfo.physicalMemory), source: "RAM")
        }
        guard let text = try? String(contentsOf: meminfo, encoding: .utf8) else {
            throw MemoryPlanError.meminfo(file: meminfo.path, reason: "unreadable")
        }
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemTotal:") }) else {
            throw MemoryPlanError.meminfo(file: meminfo.path, reason: "no MemTotal line")
        }
        let fields = line.dropFirst("MemTotal:".count).split(separator: " ")
        guard fields.count == 2, fields[1] == "kB", let kib = Int(fields[0]) else {
            throw MemoryPlanError.meminfo(
                file: meminfo.path, reason: "MemTotal: expected '<number> kB', found '\(line.dropFirst(9))'")
        }
        return DeviceMemory(bytes: kib * 1024, source: "RAM, \(meminfo.path) MemTotal")
    }
}
