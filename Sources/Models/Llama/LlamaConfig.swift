import Checkpoints
import Foundation

/// transformers `LlamaConfig` (`config.json` of HunyuanVideo's `text_encoder/`, a `LlamaModel`), in either
/// generation's layout for the rotary embedding:
/// - transformers 5: `rope_parameters` {`rope_type`, `rope_theta`, and for "llama3" `factor`, `low_freq_factor`,
///   `high_freq_factor`, `original_max_position_embeddings`};
/// - transformers 4: `rope_theta` at the top level and `rope_scaling` null or {`rope_type` (or `type`), …}.
/// Absent optional fields take `LlamaConfig`'s defaults:
/// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/models/llama/configuration_llama.py
public struct LlamaConfig: Decodable, Sendable, Equatable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    /// Grouped-query attention: each key/value head serves `numAttentionHeads / numKeyValueHeads` query heads.
    public var numKeyValueHeads: Int
    public var headDim: Int
    public var rmsNormEps: Float = 1e-6
    public var attentionBias = false
    public var mlpBias = false
    public var hiddenAct = "silu"
    public var rope = LlamaRopeParameters()

    private enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case numKeyValueHeads = "num_key_value_heads", headDim = "head_dim", rmsNormEps = "rms_norm_eps"
        case attentionBias = "attention_bias", mlpBias = "mlp_bias", hiddenAct = "hidden_act"
        case ropeParameters = "rope_parameters", ropeScaling = "rope_scaling", ropeTheta = "rope_theta"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        vocabSize = try c.decode(Int.self, forKey: .vocabSize)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        intermediateSize = try c.decode(Int.self, forKey: .intermediateSize)
        numHiddenLayers = try c.decode(Int.self, forKey: .numHiddenLayers)
        numAttentionHeads = try c.decode(Int.self, forKey: .numAttentionHeads)
        // Llama's rule: no key/value head count means one per query head.
        numKeyValueHeads = try c.decodeIfPresent(Int.self, forKey: .numKeyValueHeads) ?? numAttentionHeads
        headDim = try c.decodeIfPresent(Int.self, forKey: .headDim) ?? hiddenSize / max(numAttentionHeads, 1)
        rmsNormEps = try c.decodeIfPresent(Float.self, forKey: .rmsNormEps) ?? rmsNormEps
        attentionBias = try c.decodeIfPresent(Bool.self, forKey: .attentionBias) ?? attentionBias
        mlpBias = try c.decodeIfPresent(Bool.self, forKey: .mlpBias) ?? mlpBias
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? hiddenAct
        rope =
            try c.decodeIfPresent(LlamaRopeParameters.self, forKey: .ropeParameters)
            ?? c.decodeIfPresent(LlamaRopeParameters.self, forKey: .ropeScaling) ?? rope
        if let theta = try c.decodeIfPresent(Float.self, forKey: .ropeTheta) { rope.ropeTheta = theta }
    }

    /// What does not fit in the config's numbers; empty when it is fine.
    public func problems() -> [String] {
        var c = ConfigChecks()
        c.size("vocab_size", vocabSize)
        c.size("hidden_size", hiddenSize)
        c.size("intermediate_size", intermediateSize)
        c.count("num_hidden_layers", numHiddenLayers)
        c.size("num_attention_heads", numAttentionHeads, limit: ConfigChecks.countLimit)
        c.size("num_key_value_heads", numKeyValueHeads, limit: ConfigChecks.countLimit)
        c.size("head_dim", headDim)
        if headDim % 2 != 0 { c.add("head_dim: expected an even size for the rotary embedding, found \(headDim)") }
        c.multiple("num_attention_heads", numAttentionHeads, of: "num_key_value_heads", numKeyValueHeads)
        c.positive("rms_norm_eps", Double(rmsNormEps))
        if hiddenAct != "silu" { c.add("hidden_act: expected silu, found '\(hiddenAct)'") }
        rope.problems().forEach { c.add($0) }
        return c.problems
    }

    /// Reads `config.json` from a folder (or the file) and checks its numbers, reporting every problem at once.
    public static func load(_ url: URL) throws -> LlamaConfig {
        let file = url.hasDirectoryPath || url.pathExtension.isEmpty ? url.appendingPathComponent("config.json") : url
        let config = try ConfigFile.decode(LlamaConfig.self, from: file)
        var checks = ConfigChecks()
        config.problems().forEach { checks.add($0) }
        try checks.check(file: file.path)
        return config
    }
}

/// The rotary embedding's parameters: "default" (`1 / theta^(2j / head_dim)`) or "llama3" (Llama 3.1's rescaling of
/// the low frequencies).
public struct LlamaRopeParameters: Decodable, Sendable, Equatable {
    public var ropeType = "default"
    public var ropeTheta: Float = 10000
    public var factor: Float = 8
    public var lowFreqFactor: Float = 1
    public var highFreqFactor: Float = 4
    public var originalMaxPositionEmbeddings = 8192

    public init() {}

    private enum CodingKeys: String, CodingKey {
        case ropeType = "rope_type", type, ropeTheta = "rope_theta", factor, lowFreqFactor = "low_freq_factor"
        case highFreqFactor = "high_freq_factor", originalMaxPositionEmbeddings = "original_max_position_embeddings"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ropeType =
            try c.decodeIfPresent(String.self, forKey: .ropeType) ?? c.decodeIfPresent(String.self, forKey: .type)
            ?? ropeType
        ropeTheta = try c.decodeIfPresent(Float.self, forKey: .ropeTheta) ?? ropeTheta
        factor = try c.decodeIfPresent(Float.self, forKey: .factor) ?? factor
        lowFreqFactor = try c.decodeIfPresent(Float.self, forKey: .lowFreqFactor) ?? lowFreqFactor
        highFreqFactor = try c.decodeIfPresent(Float.self, forKey: .highFreqFactor) ?? highFreqFactor
        originalMaxPositionEmbeddings =
            try c.decodeIfPresent(Int.self, forKey: .originalMaxPositionEmbeddings) ?? originalMaxPositionEmbeddings
    }

    func problems() -> [String] {
        var problems: [String] = []
        if !["default", "llama3"].contains(ropeType) {
            problems.append("rope type: expected default or llama3, found '\(ropeType)'")
        }
        if !(ropeTheta > 0) { problems.append("rope_theta: expected a positive number, found \(ropeTheta)") }
        if ropeType == "llama3"
            && !(factor > 0 && lowFreqFactor > 0 && highFreqFactor > lowFreqFactor && originalMaxPositionEmbeddings > 0)
        {
            problems.append(
                "llama3 rope: expected factor > 0, 0 < low_freq_factor < high_freq_factor and "
                    + "original_max_position_embeddings > 0, found \(factor), \(lowFreqFactor), \(highFreqFactor), "
                    + "\(originalMaxPositionEmbeddings)")
        }
        return problems
    }
}
