import Checkpoints
import Engine
import Foundation
import NN

/// A transformers T5 `config.json` (`T5Config`), the fields the encoder needs. Field names are the file's; absent
/// fields take transformers' defaults (those of the original T5; v1.1 checkpoints such as FLUX's T5-XXL set
/// `feed_forward_proj` to "gated-gelu").
public struct T5Config: Codable, Sendable, Equatable {
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
        case vocabSize = "vocab_size", dModel = "d_model", dKv = "d_kv", dFf = "d_ff", numLayers = "num_layers"
        case numHeads = "num_heads", relativeAttentionNumBuckets = "relative_attention_num_buckets"
        case relativeAttentionMaxDistance = "relative_attention_max_distance"
        case layerNormEpsilon = "layer_norm_epsilon", feedForwardProj = "feed_forward_proj"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = T5Config()
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

    /// Reads `config.json` from a model folder (or the file itself) and checks it.
    public static func load(_ url: URL) throws -> T5Config {
        let file = url.hasDirectoryPath || url.pathExtension.isEmpty ? url.appendingPathComponent("config.json") : url
        let config = try ConfigFile.decode(T5Config.self, from: file)
        guard config.activation != nil else {
            throw ConfigFile.Error(
                file: file.path,
                message:
                    """
                    feed_forward_proj '\(config.feedForwardProj)' is not supported (expected relu, gelu, silu, \
                    gelu_new or gated-<one of them>)
                    """
            )
        }
        guard config.relativeAttentionNumBuckets >= 4,
            config.relativeAttentionMaxDistance > config.relativeAttentionNumBuckets / 4
        else {
            throw ConfigFile.Error(
                file: file.path,
                message:
                    """
                    relative_attention_num_buckets \(config.relativeAttentionNumBuckets) / max_distance \
                    \(config.relativeAttentionMaxDistance) do not make log-spaced buckets
                    """
            )
        }
        return config
    }
}
