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
        guard let rank = (object["r"] as? NSNumber)?.intValue else { throw LoRAFileError.missingRank(file: source) }
        let alpha = (object["lora_alpha"] as? NSNumber)?.floatValue ?? Float(rank)
        var modules: [String] = [], regex: String?
        switch object["target_modules"] {
        case let list as [String]: modules = list
        case let pattern as String: regex = pattern
        case nil, is NSNull: break
        default: throw LoRAFileError.invalidTargetModules(file: source)
        }
        for flag in ["use_rslora", "use_dora", "fan_in_fan_out"] where (object[flag] as? Bool) == true {
            throw LoRAFileError.unsupportedOption(file: source, flag: flag)
        }
        if let bias = object["bias"] as? String, bias != "none" {
            throw LoRAFileError.unsupportedBias(file: source, bias: bias)
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

/// A LoRA adapter file (or its configuration) that does not fit the model. Every case names the `file` (or the
/// `source` given for in-memory tensors); the description is `<file>: <what is wrong>`.
public enum LoRAFileError: Error, CustomStringConvertible, Sendable {
    // Configuration (PEFT's adapter_config.json or the file's metadata)

    /// The configuration has no integer `r`.
    case missingRank(file: String)
    /// `target_modules` is neither a list of names nor a regular expression.
    case invalidTargetModules(file: String)
    /// The configuration sets `flag` (`use_rslora`, `use_dora`, `fan_in_fan_out`), which changes the math and is
    /// not supported.
    case unsupportedOption(file: String, flag: String)
    /// The configuration trains biases (`bias` other than `none`).
    case unsupportedBias(file: String, bias: String)
    /// The file's metadata entry `key` is not a JSON object.
    case metadataNotJSONObject(file: String, key: String)

    // Tensors

    /// Saving an adapter from a model that has none.
    case noAdapterToSave(file: String)
    /// The file holds keys that are not `…lora_A.weight` / `…lora_B.weight`; `keys` are sorted.
    case foreignKeys(file: String, keys: [String])
    /// Some layers have only one of `lora_A`/`lora_B`; `layers` are sorted.
    case unpairedLayers(file: String, layers: [String])
    /// The file holds no LoRA tensors at all.
    case noTensors(file: String)
    /// No key prefix makes every adapted layer a Linear of the model; `missing` are the layers left over with the
    /// best `prefix`, `modelLayers` some of the model's Linear layers, sorted.
    case unknownLayers(file: String, missing: [String], prefix: String, modelLayers: [String])
    /// Adapter shapes that do not fit their Linear layers; one line per layer.
    case shapeMismatch(file: String, problems: [String])

    /// The file (or source) the error is about.
    public var file: String {
        switch self {
        case .missingRank(let file), .invalidTargetModules(let file), .unsupportedOption(let file, _),
            .unsupportedBias(let file, _), .metadataNotJSONObject(let file, _), .noAdapterToSave(let file),
            .foreignKeys(let file, _), .unpairedLayers(let file, _), .noTensors(let file),
            .unknownLayers(let file, _, _, _), .shapeMismatch(let file, _):
            file
        }
    }

    /// What is wrong with ``file``.
    public var message: String {
        switch self {
        case .missingRank:
            "adapter config has no integer 'r'"
        case .invalidTargetModules:
            "'target_modules' must be a list of names or a regular expression"
        case .unsupportedOption(_, let flag):
            "adapter config sets '\(flag)', which is not supported"
        case .unsupportedBias(_, let bias):
            "adapter config has bias '\(bias)'; only 'none' is supported"
        case .metadataNotJSONObject(_, let key):
            "metadata '\(key)' is not a JSON object"
        case .noAdapterToSave:
            "the model has no LoRA adapter to save"
        case .foreignKeys(_, let keys):
            "keys that are not PEFT LoRA tensors (…lora_A.weight / …lora_B.weight): "
                + keys.prefix(8).joined(separator: ", ")
        case .unpairedLayers(_, let layers):
            "layers with only one of lora_A/lora_B: " + layers.prefix(8).joined(separator: ", ")
        case .noTensors:
            "no LoRA tensors"
        case .unknownLayers(_, let missing, let prefix, let modelLayers):
            "\(missing.count) adapted layers are not Linear layers of the model (prefix '\(prefix)'): "
                + "\(missing.prefix(6).joined(separator: ", ")); the model has e.g. "
                + modelLayers.prefix(6).joined(separator: ", ")
        case .shapeMismatch(_, let problems):
            problems.prefix(8).joined(separator: "; ")
        }
    }

    public var description: String { "\(file): \(message)" }
}
