import Foundation

/// A setting outside its range: the flag, what was expected and what was found, and where the value came from when
/// it was a settings file (the key as that file spells it).
public struct SettingRangeError: Error, CustomStringConvertible, Equatable {
    /// The setting's name (`learningRate`), or the flag itself for commands without settings layers.
    public var key: String
    public var expected: String
    public var found: String
    /// The settings file that set the value and its spelling of the key; nil for flags and presets.
    public var file: (path: String, key: String)?

    public init(key: String, expected: String, found: String, file: (path: String, key: String)? = nil) {
        self.key = key
        self.expected = expected
        self.found = found
        self.file = file
    }

    public static func == (a: SettingRangeError, b: SettingRangeError) -> Bool { a.description == b.description }

    /// `--learning-rate` for `learningRate`; a flag stays itself.
    public var flag: String { SettingRange.flag(key) }

    public var description: String {
        guard let file else { return "\(flag) must be \(expected), got \(found)" }
        return "\(file.path): setting '\(file.key)' (\(flag)) must be \(expected), got \(found)"
    }
}

/// Range checks for numeric settings and flags, each throwing a `SettingRangeError` naming the flag. Non-finite
/// numbers never pass a number check.
public enum SettingRange {
    public static func flag(_ key: String) -> String {
        if key.hasPrefix("--") { return key }
        return "--"
            + key.replacingOccurrences(of: "([a-z0-9])([A-Z])", with: "$1-$2", options: .regularExpression)
            .lowercased()
    }

    /// An integer in `atLeast...atMost`.
    public static func integer(
        _ value: Int, _ key: String, atLeast low: Int, atMost high: Int? = nil, _ note: String = ""
    )
        throws
    {
        guard value < low || value > (high ?? Int.max) else { return }
        let range = high.map { "an integer from \(low) to \($0)" } ?? "an integer ≥ \(low)"
        throw SettingRangeError(key: key, expected: range + note, found: "\(value)")
    }

    /// A finite number above `above` (exclusive) or from `atLeast` (inclusive), up to `atMost` (inclusive).
    public static func number(
        _ value: Double, _ key: String, above: Double? = nil, atLeast: Double? = nil, atMost: Double? = nil,
        _ note: String = ""
    ) throws {
        let inRange =
            value.isFinite && above.map { value > $0 } != false && atLeast.map { value >= $0 } != false
            && atMost.map { value <= $0 } != false
        guard !inRange else { return }
        var bounds: [String] = []
        if let above { bounds.append("> \(format(above))") }
        if let atLeast { bounds.append("≥ \(format(atLeast))") }
        if let atMost { bounds.append("≤ \(format(atMost))") }
        let expected = "a finite number" + (bounds.isEmpty ? "" : " " + bounds.joined(separator: " and ")) + note
        throw SettingRangeError(key: key, expected: expected, found: format(value))
    }

    public static func number(
        _ value: Float, _ key: String, above: Double? = nil, atLeast: Double? = nil, atMost: Double? = nil,
        _ note: String = ""
    ) throws {
        try number(Double(value), key, above: above, atLeast: atLeast, atMost: atMost, note)
    }

    /// Whole numbers without a fraction, others as Swift prints them (`nan`, `inf`, `1e+300`).
    public static func format(_ value: Double) -> String {
        value.isFinite && value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : "\(value)"
    }
}
