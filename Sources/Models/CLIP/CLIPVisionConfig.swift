import Checkpoints
import Engine
import Foundation
import NN

/// The vision tower's part of a transformers CLIP `config.json` (`CLIPVisionConfig`, or the `"vision_config"` of a
/// `CLIPConfig`). Field names are the file's; absent fields take transformers' defaults (ViT-B/32).
public struct CLIPVisionConfig: Codable, Sendable, Equatable {
    public var hiddenSize = 768
    public var intermediateSize = 3072
    public var numHiddenLayers = 12
    public var numAttentionHeads = 12
    public var numChannels = 3
    public var imageSize = 224
    public var patchSize = 32
    public var hiddenAct = "quick_gelu"
    public var layerNormEps: Float = 1e-5
    public var projectionDim = 512

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "hidden_size", intermediateSize = "intermediate_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", numChannels = "num_channels", imageSize = "image_size"
        case patchSize = "patch_size", hiddenAct = "hidden_act", layerNormEps = "layer_norm_eps"
        case projectionDim = "projection_dim"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = CLIPVisionConfig()
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? d.hiddenSize
        intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize) ?? d.intermediateSize
        numHiddenLayers = try c.decodeIfPresent(Int.self, forKey: .numHiddenLayers) ?? d.numHiddenLayers
        numAttentionHeads = try c.decodeIfPresent(Int.self, forKey: .numAttentionHeads) ?? d.numAttentionHeads
        numChannels = try c.decodeIfPresent(Int.self, forKey: .numChannels) ?? d.numChannels
        imageSize = try c.decodeIfPresent(Int.self, forKey: .imageSize) ?? d.imageSize
        patchSize = try c.decodeIfPresent(Int.self, forKey: .patchSize) ?? d.patchSize
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? d.hiddenAct
        layerNormEps = try c.decodeIfPresent(Float.self, forKey: .layerNormEps) ?? d.layerNormEps
        projectionDim = try c.decodeIfPresent(Int.self, forKey: .projectionDim) ?? d.projectionDim
    }

    /// Patches per side; the sequence is `gridSize² + 1` tokens (the class token first).
    public var gridSize: Int { imageSize / patchSize }

    /// transformers' `ACT2FN[hidden_act]` for the names CLIP towers use.
    public var activation: Activation? {
        var text = CLIPTextConfig()
        text.hiddenAct = hiddenAct
        return text.activation
    }

    /// What does not fit in the config's numbers, keys prefixed with `prefix` (as in a CLIPConfig); `ownProjection`
    /// false when `projection_dim` is the enclosing CLIPConfig's.
    public func problems(prefix: String = "", ownProjection: Bool = true) -> [String] {
        var c = ConfigChecks()
        c.size(prefix + "hidden_size", hiddenSize)
        c.size(prefix + "intermediate_size", intermediateSize)
        c.size(prefix + "num_hidden_layers", numHiddenLayers, limit: ConfigChecks.countLimit)
        c.size(prefix + "num_attention_heads", numAttentionHeads, limit: ConfigChecks.countLimit)
        c.multiple(prefix + "hidden_size", hiddenSize, of: "num_attention_heads", numAttentionHeads)
        c.size(prefix + "num_channels", numChannels, limit: ConfigChecks.countLimit)
        c.size(prefix + "image_size", imageSize, limit: 1 << 16)
        c.size(prefix + "patch_size", patchSize, limit: 1 << 16)
        c.multiple(prefix + "image_size", imageSize, of: "patch_size", patchSize)
        if ownProjection { c.size(prefix + "projection_dim", projectionDim) }
        c.positive(prefix + "layer_norm_eps", Double(layerNormEps))
        if activation == nil {
            c.add(
                "\(prefix)hidden_act: expected quick_gelu, gelu, gelu_new, gelu_pytorch_tanh, relu, silu or swish, "
                    + "found '\(hiddenAct)'")
        }
        return c.problems
    }
}

/// A transformers `CLIPConfig` (`config.json` of a `CLIPModel` folder such as PickScore_v1 or
/// openai/clip-vit-large-patch14): both towers and the joint embedding size.
public struct CLIPConfig: Sendable, Equatable {
    public var text: CLIPTextConfig
    public var vision: CLIPVisionConfig
    /// The size of the joint embedding space (`projection_dim`, top level).
    public var projectionDim: Int

    public init(text: CLIPTextConfig, vision: CLIPVisionConfig, projectionDim: Int) {
        self.text = text
        self.vision = vision
        self.projectionDim = projectionDim
        self.text.projectionDim = projectionDim
        self.vision.projectionDim = projectionDim
    }

    /// Reads `config.json` from a model folder (or the file itself); it must have `text_config` and `vision_config`.
    public static func load(_ url: URL) throws -> CLIPConfig {
        let file = url.hasDirectoryPath || url.pathExtension.isEmpty ? url.appendingPathComponent("config.json") : url
        let object = try ConfigFile.object(from: file)
        // Configs written by transformers < 4.24 also carry `text_config_dict` / `vision_config_dict` (e.g.
        // openai/clip-vit-large-patch14); transformers lets their values override the plain ones.
        func tower(_ key: String) -> [String: Any]? {
            guard var tower = object[key] as? [String: Any] ?? object["\(key)_dict"] as? [String: Any] else {
                return nil
            }
            if let overrides = object["\(key)_dict"] as? [String: Any] { tower.merge(overrides) { _, new in new } }
            return tower
        }
        guard let textObject = tower("text_config"), let visionObject = tower("vision_config") else {
            throw ConfigFile.Error(
                file: file.path, message: "not a CLIPModel config: expected 'text_config' and 'vision_config'")
        }
        func decode<T: Decodable>(_ type: T.Type, _ object: [String: Any], _ path: String) throws -> T {
            do {
                return try JSONDecoder().decode(T.self, from: JSONSerialization.data(withJSONObject: object))
            } catch {
                throw ConfigFile.Error(file: file.path, message: "'\(path)' is not a CLIP tower config: \(error)")
            }
        }
        let text = try decode(CLIPTextConfig.self, textObject, "text_config")
        let vision = try decode(CLIPVisionConfig.self, visionObject, "vision_config")
        let config = CLIPConfig(text: text, vision: vision, projectionDim: object["projection_dim"] as? Int ?? 512)
        var checks = ConfigChecks()
        checks.size("projection_dim", config.projectionDim)
        let towers =
            config.text.problems(prefix: "text_config.", ownProjection: false)
            + config.vision.problems(prefix: "vision_config.", ownProjection: false)
        towers.forEach { checks.add($0) }
        try checks.check(file: file.path)
        return config
    }
}
