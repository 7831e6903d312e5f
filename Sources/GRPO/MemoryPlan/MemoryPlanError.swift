/// Why a memory plan could not be made, or why a run it describes cannot start.
public enum MemoryPlanError: Error, Equatable, CustomStringConvertible {
    /// The device-size override is not a positive byte count.
    case badOverride(variable: String, value: String)
    /// /proc/meminfo could not be read as expected.
    case meminfo(file: String, reason: String)
    /// The plan needs more than the device holds: the plan's report, with the settings that would fit.
    case doesNotFit(report: String)

    public var description: String {
        switch self {
        case .badOverride(let variable, let value):
            return "\(variable): expected a positive number of bytes, found '\(value)'"
        case .meminfo(let file, let reason): return "\(file): \(reason)"
        case .doesNotFit(let report): return report
        }
    }
}
