import Checkpoints
import Foundation
import Yams

/// A bad setting: the file (or "command line"), the key, and what was expected.
public enum SettingsError: Error, CustomStringConvertible, Equatable {
    case unreadable(file: String, reason: String)
    case unknownKey(file: String, key: String, known: [String])
    case invalidValue(origin: String, key: String, reason: String)
    case unsupportedValue(key: String, value: String, expected: String)

    public var description: String {
        switch self {
        case .unreadable(let file, let reason): return "\(file): \(reason)"
        case .unknownKey(let file, let key, let known):
            return
                """
                \(file): unknown setting '\(key)' (known: \(known.joined(separator: ", ")); DanceGRPO's argument names \
                are read too)
                """
        case .invalidValue(let origin, let key, let reason): return "\(origin): setting '\(key)': \(reason)"
        case .unsupportedValue(let key, let value, let expected):
            return "setting '\(key)' = \(value): expected \(expected)"
        }
    }
}

/// One source of settings: its name for `--dry-run` ("preset flux", a file path, "command line") and its values by
/// our setting names.
public struct SettingsLayer {
    public var origin: String
    public var values: [String: Any]
    /// Keys the layer named that do not change what is trained here (DanceGRPO's PyTorch machinery).
    public var ignored: [String] = []
    /// The origin of the flags' layer.
    public static let commandLine = "command line"

    public init(origin: String, values: [String: Any], ignored: [String] = []) {
        self.origin = origin
        self.values = values
        self.ignored = ignored
    }

    /// A JSON or YAML file (by extension; `.yaml`/`.yml` are YAML) whose keys are ours in camelCase, snake_case or
    /// kebab-case, or DanceGRPO's argument names.
    public static func file(_ url: URL) throws -> SettingsLayer {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            let reason = FileSystemFailure.explain(error)?.reason ?? error.localizedDescription
            throw SettingsError.unreadable(file: url.path, reason: "cannot read (\(reason))")
        }
        let object: Any?
        do {
            if ["yaml", "yml"].contains(url.pathExtension.lowercased()) {
                object = try Yams.load(yaml: String(decoding: data, as: UTF8.self))
            } else {
                object = try JSONSerialization.jsonObject(with: data)
            }
        } catch {
            // Foundation's parser explains itself in its debug description; the rest of its NSError is noise.
            let reason = (error as NSError).userInfo["NSDebugDescription"] as? String ?? "\(error)"
            throw SettingsError.unreadable(
                file: url.path, reason: "not valid \(url.pathExtension.uppercased()): \(reason)")
        }
        guard let values = object as? [String: Any] else {
            throw SettingsError.unreadable(file: url.path, reason: "expected a mapping of setting names to values")
        }
        let translated = try SeedArguments.translate(values)
        return SettingsLayer(origin: url.path, values: translated.values, ignored: translated.ignored)
    }
}

/// Every setting of a training run (the trainer's and the task's), resolved from layers in order — preset, the
/// resumed run's `config.json`, `--config` file, command-line flags — each overriding the ones before, with the
/// layer each value came from.
public struct RunSettings {
    public var trainer: GRPOTrainer.Config
    public var task: TaskSettings
    /// Setting name → the origin of its value ("preset world" where no layer set it).
    public var origins: [String: String]
    /// Seed arguments accepted and ignored, with their origin.
    public var ignored: [(key: String, origin: String)]
    /// Setting name → the key as the layer that set it spelled it (`learning_rate`), for messages about files.
    public var spellings: [String: String] = [:]

    /// `presetName` names `preset` (and `taskPreset`, the family's task defaults) in origins.
    public static func resolve(
        preset: GRPOTrainer.Config, presetName: String, layers: [SettingsLayer], taskPreset: TaskSettings = .init()
    ) throws -> RunSettings {
        var trainerValues = try dictionary(preset)
        var taskValues = try dictionary(taskPreset)
        var origins = Dictionary(
            uniqueKeysWithValues: (Array(trainerValues.keys) + Array(taskValues.keys))
                .map { ($0, "preset \(presetName)") })
        var ignored: [(String, String)] = []
        var spellings: [String: String] = [:]
        let taskKeys = Self.taskKeys
        let known = (Array(trainerValues.keys) + taskKeys).sorted()
        for layer in layers {
            ignored += layer.ignored.map { ($0, layer.origin) }
            for (key, value) in layer.values.sorted(by: { $0.key < $1.key }) {
                let name = camelCase(key)
                // JSON has no NaN or infinity, and no setting takes one: refused here with the key, not later when
                // the settings are encoded.
                if let number = value as? Double, !number.isFinite {
                    throw SettingRangeError(
                        key: name, expected: "a finite number", found: "\(number)",
                        file: layer.origin == SettingsLayer.commandLine ? nil : (layer.origin, key))
                }
                if trainerValues.keys.contains(name) {
                    trainerValues[name] = value
                } else if taskKeys.contains(name) {
                    taskValues[name] = value
                } else {
                    throw SettingsError.unknownKey(file: layer.origin, key: key, known: known)
                }
                origins[name] = layer.origin
                spellings[name] = key
            }
        }
        let trainer: GRPOTrainer.Config = try decode(trainerValues, origins: origins)
        let resolvedTask: TaskSettings = try decode(taskValues, origins: origins)
        return RunSettings(
            trainer: trainer, task: resolvedTask, origins: origins, ignored: ignored, spellings: spellings)
    }

    /// The trainer's and the task's range checks; a value out of range that a settings file set is named by that file
    /// and its key as well as by its flag.
    public func validate() throws {
        do {
            try trainer.validate()
            try task.validate()
            // What the trainer checks against its model, decided here by the family (SD samples with DDIM, the
            // others are flow models), so that --dry-run refuses it too.
            _ = try GRPOTrainer.stochasticSampler(trainer, chain: task.model == .sd ? .ddim(.init()) : .flow)
        } catch var error as SettingRangeError {
            if let origin = origins[error.key], FileManager.default.fileExists(atPath: origin) {
                error.file = (origin, spellings[error.key] ?? error.key)
            }
            throw error
        }
    }

    /// Every task setting's name, those without a default (absent from an encoded `TaskSettings`) included.
    static let taskKeys = Mirror(reflecting: TaskSettings()).children.compactMap(\.label)

    /// Every setting with its value and origin, one per line, sorted by name (`train --dry-run`).
    public func describe() throws -> String {
        var values = try Self.dictionary(trainer)
        for (key, value) in try Self.dictionary(task) { values[key] = value }
        for key in Self.taskKeys where values[key] == nil { values[key] = "(none)" }
        let width = values.keys.map(\.count).max() ?? 0
        var lines = values.keys.sorted().map { key -> String in
            let value = Self.render(values[key]!)
            return key.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + value
                + "    (" + (origins[key] ?? "default") + ")"
        }
        for (key, origin) in ignored { lines.append("ignored: \(key) (\(origin)): DanceGRPO's PyTorch machinery") }
        return lines.joined(separator: "\n")
    }

    static func render(_ value: Any) -> String {
        if let number = value as? NSNumber, String(cString: number.objCType) == "c" {
            return number.boolValue ? "true" : "false"
        }
        return "\(value)"
    }

    static func dictionary<T: Encodable>(_ value: T) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: JSONEncoder().encode(value)) as! [String: Any]
    }

    static func decode<T: Decodable>(_ values: [String: Any], origins: [String: String]) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: JSONSerialization.data(withJSONObject: values))
        } catch let DecodingError.typeMismatch(type, context), let DecodingError.valueNotFound(type, context) {
            let key = context.codingPath.first?.stringValue ?? "?"
            throw SettingsError.invalidValue(
                origin: origins[key] ?? "settings", key: key,
                reason: "expected a value of type \(type), found \(values[key].map { "\($0)" } ?? "none")")
        } catch let DecodingError.dataCorrupted(context) {
            let key = context.codingPath.first?.stringValue ?? "?"
            var reason = context.debugDescription
            if let choices = Self.choices[key] {
                reason = "'\(values[key].map { "\($0)" } ?? "")' is not one of \(choices.joined(separator: ", "))"
            }
            throw SettingsError.invalidValue(origin: origins[key] ?? "settings", key: key, reason: reason)
        }
    }

    /// The accepted values of the settings that name a choice, for errors (the learning-rate schedule names its own).
    static let choices: [String: [String]] = [
        "model": ModelFamily.allCases.map(\.rawValue),
        "sampler": SamplerKind.allCases.map(\.rawValue),
        "rewardCombination": RewardCombination.allCases.map(\.rawValue)
    ]

    /// `learning_rate`, `learning-rate` and `learningRate` all name `learningRate`.
    public static func camelCase(_ key: String) -> String {
        let parts = key.split(whereSeparator: { $0 == "_" || $0 == "-" })
        guard let first = parts.first else { return key }
        return String(first) + parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }
}
