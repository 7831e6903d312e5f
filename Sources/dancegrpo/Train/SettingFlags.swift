import ArgumentParser
import Foundation
import Training

/// Reads a flag's parsed value out of its property wrapper, for `SettingFlags.layer`.
protocol SettingFlag {
    var parsedSetting: Any? { get }
}

extension Option: SettingFlag {
    var parsedSetting: Any? { SettingFlags.unwrap(wrappedValue) }
}

extension Flag: SettingFlag {
    var parsedSetting: Any? { SettingFlags.unwrap(wrappedValue) }
}

/// Flags → one settings layer: every optional flag that was given, under its property's name (the setting's
/// name), as the JSON value a config file would hold. One mechanism for all settings instead of one line each.
enum SettingFlags {
    static func layer(_ groups: [any ParsableArguments]) -> SettingsLayer {
        var values: [String: Any] = [:]
        for group in groups {
            for child in Mirror(reflecting: group).children {
                guard let label = child.label, let flag = child.value as? SettingFlag,
                    let value = flag.parsedSetting
                else { continue }
                values[label.hasPrefix("_") ? String(label.dropFirst()) : label] = value
            }
        }
        return SettingsLayer(origin: SettingsLayer.commandLine, values: values)
    }

    /// The JSON value of an optional flag's value, or nil when the flag was not given.
    static func unwrap(_ value: Any) -> Any? {
        let mirror = Mirror(reflecting: value)
        if mirror.displayStyle == .optional {
            guard let wrapped = mirror.children.first?.value else { return nil }
            return unwrap(wrapped)
        }
        switch value {
        case let float as Float: return Double(float)
        case let raw as any RawRepresentable: return raw.rawValue
        case let targets as LoRATargets: return targets.description
        default: return value
        }
    }
}
