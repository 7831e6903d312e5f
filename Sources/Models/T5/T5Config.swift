import Checkpoints
import Engine
import Foundation
import NN

/// A transformers T5 `config.json` (`T5Config`, or `UMT5Config` when `model_type` is "umt5"), the fields the encoder
/// needs. Field names are the file's; absent fields take transformers' defaults for the model type (the original
/// T5's for "t5": v1.1 checkpoints such as FLUX's T5-XXL set `feed_forward_proj` to "gated-gelu"; UMT5's own, gated
/// GELU included, for "umt5"). `tie_word_embeddings` (false in google/umt5-xxl) only concerns a decoder's output
/// head: the encoder's `embed_tokens` is the `shared` table either way.
public struct T5Config: Codable, Sendable, Equatable {
    /// "t5" (also FLUX's T5-XXL), "mt5", or "umt5" (Wan's google/umt5-xxl: every layer has its own position bias).
    public var modelType = "t5"
    public var vocabSize = 32128
    public var dModel = 512
    public var dKv = 64
    public var dFf = 2048
    public var numLayers = 6
    public var numHeads = 8
    public var relativeAttentionNumBuckets = 32
    public var relativeAttentionMaxDistance = 128
    public var layerNormEpsilon: Float = 1e-6
    /// "relu" (T5), "gated-gelu" (T5 v1.1, Flan-T5), or generally "<act>" / "gated-<act>".
    public var feedForwardProj = "relu"

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type"
        case vocabSize = "vocab_size", dModel = "d_model", dKv = "d_kv", dFf = "d_ff", numLayers = "num_layers"
        case numHeads = "num_heads", relativeAttentionNumBuckets = "relative_attention_num_buckets"
        case relativeAttentionMaxDistance = "relative_attention_max_distance"
        case layerNormEpsilon = "layer_norm_epsilon", feedForwardProj = "feed_forward_proj"
    }

    public init() {}

    /// transformers' `UMT5Config` defaults (google/umt5-small's sizes).
    public static var umt5: T5Config {
        var config = T5Config()
        config.modelType = "umt5"
        config.vocabSize = 250112
        config.dFf = 1024
        config.numLayers = 8
        config.numHeads = 6
        config.feedForwardProj = "gated-gelu"
        return config
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let modelType = try c.decodeIfPresent(String.self, forKey: .modelType) ?? "t5"
        let d = modelType == "umt5" ? T5Config.umt5 : T5Config()
        self.modelType = modelType
        vocabSize = try c.decodeIfPresent(Int.self, forKey: .vocabSize) ?? d.vocabSize
        dModel = try c.decodeIfPresent(Int.self, forKey: .dModel) ?? d.dModel
        dKv = try c.decodeIfPresent(Int.self, forKey: .dKv) ?? d.dKv
        dFf = try c.decodeIfPresent(Int.self, forKey: .dFf) ?? d.dFf
        numLayers = try c.decodeIfPresent(Int.self, forKey: .numLayers) ?? d.numLayers
        numHeads = try c.decodeIfPresent(Int.self, forKey: .numHeads) ?? d.numHeads
        relativeAttentionNumBuckets =
            try c.decodeIfPresent(Int.self, forKey: .relativeAttentionNumBuckets)
            ?? d.relativeAttentionNumBuckets
        relativeAttentionMaxDistance =
            try c.decodeIfPresent(Int.self, forKey: .relativeAttentionMaxDistance)
            ?? d.relativeAttentionMaxDistance
        layerNormEpsilon = try c.decodeIfPresent(Float.self, forKey: .layerNormEpsilon) ?? d.layerNormEpsilon
        feedForwardProj = try c.decodeIfPresent(String.self, forKey: .feedForwardProj) ?? d.feedForwardProj
    }

    /// FLUX pads and truncates T5 prompts to 512 tokens (`max_sequence_length`); the encoder itself has no limit.
    public static let fluxMaxSequenceLength = 512

    /// UMT5 (transformers `UMT5Attention`, `has_relative_attention_bias=True` in every layer): each layer has its own
    /// `relative_attention_bias` table and computes its own bias; T5 and mT5 have one, in layer 0, shared by all.
    public var hasPerLayerPositionBias: Bool { modelType == "umt5" }

    /// "gated-<act>": the feed-forward multiplies an activated and a linear projection (`wi_0`, `wi_1`).
    public var isGated: Bool { feedForwardProj.hasPrefix("gated-") }

    /// transformers' `dense_act_fn`: the part after "gated-", except that "gated-gelu" means `gelu_new` (tanh).
    public var activation: Activation? {
        if feedForwardProj == "gated-gelu" { return .geluTanh }
        let name = isGated ? String(feedForwardProj.dropFirst("gated-".count)) : feedForwardProj
        switch name {
        case "relu": return .relu
        case "gelu": return .gelu
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": return .geluTanh
        case "silu", "swish": return .silu
        default: return nil
        }
    }

    /// What does not fit in the config's numbers; empty when it is fine.
    public func problems() -> [String] {
        var c = ConfigChecks()
        if !["t5", "mt5", "umt5"].contains(modelType) {
            c.add("model_type: expected t5, mt5 or umt5, found '\(modelType)'")
        }
        c.size("vocab_size", vocabSize)
        c.size("d_model", dModel)
        c.size("d_kv", dKv)
        c.size("d_ff", dFf)
        c.size("num_layers", numLayers, limit: ConfigChecks.countLimit)
        c.size("num_heads", numHeads, limit: ConfigChecks.countLimit)
        c.positive("layer_norm_epsilon", Double(layerNormEpsilon))
        if activation == nil {
            c.add(
                "feed_forward_proj: expected relu, gelu, silu, gelu_new or gated-<one of them>, "
                    + "found '\(feedForwardProj)'")
        }
        // The buckets are log-spaced between num_buckets / 4 exact ones and max_distance.
        if relativeAttentionNumBuckets < 4 || relativeAttentionNumBuckets > ConfigChecks.countLimit {
            c.add(
                "relative_attention_num_buckets: expected 4...\(ConfigChecks.countLimit), "
                    + "found \(relativeAttentionNumBuckets)")
        } else if relativeAttentionMaxDistance <= relativeAttentionNumBuckets / 4
            || relativeAttentionMaxDistance > ConfigChecks.sizeLimit
        {
            c.add(
                """
                relative_attention_max_distance: expected more than relative_attention_num_buckets / 4 = \
                \(relativeAttentionNumBuckets / 4) (log-spaced buckets), up to \(ConfigChecks.sizeLimit), found \
                \(relativeAttentionMaxDistance)
                """
            )
        }
        return c.problems
    }

    /// Reads `config.json` from a folder (or the file) and checks its numbers, reporting every problem at once.
    public static func load(_ url: URL) throws -> T5Config {
        let file = url.hasDirectoryPath || url.pathExtension.isEmpty ? url.appendingPathComponent("config.json") : url
        let config = try ConfigFile.decode(T5Config.self, from: file)
        var checks = ConfigChecks()
        config.problems().forEach { checks.add($0) }
        try checks.check(file: file.path)
        return config
    }
}
