import Foundation

/// Which layers receive adapters, and with what rank and alpha; serialised as PEFT's `LoraConfig` (the JSON of
/// `adapter_config.json`, and of diffusers' `lora_adapter_metadata` safetensors metadata).
public struct LoRAConfig: Equatable, Sendable {
    public var rank: Int
    public var alpha: Float
    /// Module names: a layer is a target when its dotted name equals one or ends with `.` + one (PEFT's rule), so
    /// `"to_out.0"` selects `transformer_blocks.3.attn.to_out.0`.
    public var targetModules: [String]
    /// A regular expression matched against the whole dotted name instead (PEFT's string form of
    /// `target_modules`); when set, `targetModules` is ignored.
    public var targetRegex: String?
    /// Per-layer exceptions, keyed like targets (PEFT's `rank_pattern` / `alpha_pattern`).
    public var rankPattern: [String: Int]
    public var alphaPattern: [String: Float]

    public init(
        rank: Int, alpha: Float, targetModules: [String], targetRegex: String? = nil,
        rankPattern: [String: Int] = [:], alphaPattern: [String: Float] = [:]
    ) {
        self.rank = rank
        self.alpha = alpha
        self.targetModules = targetModules
        self.targetRegex = targetRegex
        self.rankPattern = rankPattern
        self.alphaPattern = alphaPattern
    }

    /// Whether the layer named `moduleName` is a target.
    public func targets(_ moduleName: String) -> Bool {
        if let targetRegex { return (try? Regex(targetRegex).wholeMatch(in: moduleName)) != nil }
        return targetModules.contains { LoRAConfig.name(moduleName, endsWith: $0) }
    }

    public func rank(for moduleName: String) -> Int { LoRAConfig.lookup(rankPattern, moduleName) ?? rank }
    public func alpha(for moduleName: String) -> Float { LoRAConfig.lookup(alphaPattern, moduleName) ?? alpha }

    static func name(_ name: String, endsWith suffix: String) -> Bool {
        name == suffix || name.hasSuffix("." + suffix)
    }

    private static func lookup<V>(_ pattern: [String: V], _ moduleName: String) -> V? {
        // The longest matching key wins, so a specific name overrides a general one whatever the dictionary order.
        pattern.filter { name(moduleName, endsWith: $0.key) }.max { $0.key.count < $1.key.count }?.value
    }
}

extension LoRAConfig {
    /// PEFT's field names, with the defaults PEFT writes for the options this implementation does not have.
    public var jsonObject: [String: Any] {
        [
            "peft_type": "LORA",
            "r": rank,
            "lora_alpha": Double(alpha),
            "target_modules": targetRegex.map { $0 as Any } ?? targetModules.sorted(),
            "rank_pattern": rankPattern,
            "alpha_pattern": alphaPattern.mapValues { Double($0) },
            "lora_dropout": 0.0,
            "bias": "none",
            "fan_in_fan_out": false,
            "init_lora_weights": true,
            "use_rslora": false,
            "use_dora": false
        ]
    }

    public func jsonString() -> String {
        let data = try! JSONSerialization.data(withJSONObject: jsonObject, options: [.prettyPrinted, .sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    /// Reads PEFT's fields; `source` names the file in errors. Options that change the math and are not supported
    /// here (rsLoRA, DoRA, bias training, transposed weights) are rejected rather than silently ignored.
    public init(jsonObject object: [String: Any], source: String) throws {
        func fail(_ message: String) -> LoRAFileError { LoRAFileError(file: source, message: message) }
        guard let rank = (object["r"] as? NSNumber)?.intValue else { throw fail("adapter config has no integer 'r'") }
        let alpha = (object["lora_alpha"] as? NSNumber)?.floatValue ?? Float(rank)
        var modules: [String] = [], regex: String?
        switch object["target_modules"] {
        case let list as [String]: modules = list
        case let pattern as String: regex = pattern
        case nil, is NSNull: break
        default: throw fail("'target_modules' must be a list of names or a regular expression")
        }
        for flag in ["use_rslora", "use_dora", "fan_in_fan_out"] where (object[flag] as? Bool) == true {
            throw fail("adapter config sets '\(flag)', which is not supported")
        }
        if let bias = object["bias"] as? String, bias != "none" {
            throw fail("adapter config has bias '\(bias)'; only 'none' is supported")
        }
        let ranks = (object["rank_pattern"] as? [String: Any] ?? [:]).compactMapValues { ($0 as? NSNumber)?.intValue }
        let alphas = (object["alpha_pattern"] as? [String: Any] ?? [:]).compactMapValues {
            ($0 as? NSNumber)?.floatValue
        }
        self.init(
            rank: rank, alpha: alpha, targetModules: modules, targetRegex: regex, rankPattern: ranks,
            alphaPattern: alphas)
    }
}

/// A LoRA adapter file (or its configuration) that does not fit the model.
public struct LoRAFileError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let message: String
    public var description: String { "\(file): \(message)" }
}
