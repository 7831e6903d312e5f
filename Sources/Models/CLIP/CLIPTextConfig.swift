import Checkpoints
import Engine
import Foundation
import NN

/// The text tower's part of a transformers CLIP `config.json` (`CLIPTextConfig`). Field names are the file's; absent
/// fields take transformers' defaults. ``load(_:)`` also reads a full `CLIPConfig` (reward models), whose text fields
/// sit under `"text_config"` and whose `projection_dim` is the top-level one.
public struct CLIPTextConfig: Codable, Sendable, Equatable {
    public var vocabSize = 49408
    public var hiddenSize = 512
    public var intermediateSize = 2048
    public var numHiddenLayers = 12
    public var numAttentionHeads = 8
    public var maxPositionEmbeddings = 77
    /// "quick_gelu" (OpenAI CLIP, SD 1.x, FLUX) or "gelu" (OpenCLIP ViT-H/bigG, SD 2.x, SDXL's second encoder).
    public var hiddenAct = "quick_gelu"
    public var layerNormEps: Float = 1e-5
    /// 2 in configs written before transformers PR #24773: pooling then takes the largest token id as the EOS.
    public var eosTokenId = 49407
    public var projectionDim = 512

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case maxPositionEmbeddings = "max_position_embeddings", hiddenAct = "hidden_act"
        case layerNormEps = "layer_norm_eps", eosTokenId = "eos_token_id", projectionDim = "projection_dim"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = CLIPTextConfig()
        vocabSize = try c.decodeIfPresent(Int.self, forKey: .vocabSize) ?? d.vocabSize
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? d.hiddenSize
        intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize) ?? d.intermediateSize
        numHiddenLayers = try c.decodeIfPresent(Int.self, forKey: .numHiddenLayers) ?? d.numHiddenLayers
        numAttentionHeads = try c.decodeIfPresent(Int.self, forKey: .numAttentionHeads) ?? d.numAttentionHeads
        maxPositionEmbeddings =
            try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? d.maxPositionEmbeddings
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? d.hiddenAct
        layerNormEps = try c.decodeIfPresent(Float.self, forKey: .layerNormEps) ?? d.layerNormEps
        eosTokenId = try c.decodeIfPresent(Int.self, forKey: .eosTokenId) ?? d.eosTokenId
        projectionDim = try c.decodeIfPresent(Int.self, forKey: .projectionDim) ?? d.projectionDim
    }

    public var headDim: Int { hiddenSize / numAttentionHeads }

    /// transformers' `ACT2FN[hidden_act]` for the names CLIP text towers use.
    public var activation: Activation? {
        switch hiddenAct {
        case "quick_gelu": return .quickGelu
        case "gelu": return .gelu
        case "gelu_new", "gelu_pytorch_tanh": return .geluTanh
        case "relu": return .relu
        case "silu", "swish": return .silu
        default: return nil
        }
    }

    /// Whether pooling uses the pre-#24773 rule (largest id) instead of the first `eos_token_id`.
    public var usesLegacyPooling: Bool { eosTokenId == 2 }

    /// Reads `config.json` from a model folder (or the file itself): a `CLIPTextConfig`, or a `CLIPConfig` with a
    /// nested `"text_config"`. Checks that the sizes fit together.
    public static func load(_ url: URL) throws -> CLIPTextConfig {
        let file = url.hasDirectoryPath || url.pathExtension.isEmpty ? url.appendingPathComponent("config.json") : url
        let object = try ConfigFile.object(from: file)
        var config: CLIPTextConfig
        let nested = object["text_config"] is [String: Any]
        if let text = object["text_config"] as? [String: Any] {
            config = try decode(text, file: file, path: "text_config")
            // CLIPModel sizes text_projection with the top-level projection_dim, not the text config's.
            if let projection = object["projection_dim"] as? Int { config.projectionDim = projection }
        } else {
            config = try ConfigFile.decode(CLIPTextConfig.self, from: file)
        }
        var checks = ConfigChecks()
        config.problems(prefix: nested ? "text_config." : "").forEach { checks.add($0) }
        try checks.check(file: file.path)
        return config
    }

    private static func decode(_ object: [String: Any], file: URL, path: String) throws -> CLIPTextConfig {
        do {
            let data = try JSONSerialization.data(withJSONObject: object)
            return try JSONDecoder().decode(CLIPTextConfig.self, from: data)
        } catch {
            throw ConfigFile.Error(file: file.path, message: "'\(path)' is not a CLIP text config: \(error)")
        }
    }

    /// What does not fit in the config's numbers, keys prefixed with `prefix` (as in a CLIPConfig); `ownProjection`
    /// false when `projection_dim` is the enclosing CLIPConfig's.
    public func problems(prefix: String = "", ownProjection: Bool = true) -> [String] {
        var c = ConfigChecks()
        c.size(prefix + "vocab_size", vocabSize)
        c.size(prefix + "hidden_size", hiddenSize)
        c.size(prefix + "intermediate_size", intermediateSize)
        c.size(prefix + "num_hidden_layers", numHiddenLayers, limit: ConfigChecks.countLimit)
        c.size(prefix + "num_attention_heads", numAttentionHeads, limit: ConfigChecks.countLimit)
        c.multiple(prefix + "hidden_size", hiddenSize, of: "num_attention_heads", numAttentionHeads)
        c.size(prefix + "max_position_embeddings", maxPositionEmbeddings)
        if ownProjection { c.size(prefix + "projection_dim", projectionDim) }
        c.positive(prefix + "layer_norm_eps", Double(layerNormEps))
        if vocabSize > 0 { c.id(prefix + "eos_token_id", eosTokenId, inside: "vocab_size", vocabSize) }
        if activation == nil {
            c.add(
                "\(prefix)hidden_act: expected quick_gelu, gelu, gelu_new, gelu_pytorch_tanh, relu, silu or swish, "
                    + "found '\(hiddenAct)'")
        }
        return c.problems
    }
}
