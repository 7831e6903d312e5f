// open_clip's model configuration (`open_clip/model_configs/<name>.json`, or the `model_cfg` of a Hub
// `open_clip_config.json`): mlfoundations/open_clip src/open_clip/model.py `CLIPVisionCfg`, `CLIPTextCfg`.
// Only the ViT + text-transformer family is built (the towers of HPS-v2, laion and DFN CLIP checkpoints); the
// ResNet, timm and Hugging Face text towers, attentional pooling and `embed_cls` are refused with a message.
import Checkpoints
import Engine
import Foundation
import NN

/// An open_clip model config. Sizes come from the JSON; absent fields take open_clip's dataclass defaults.
public struct OpenCLIPConfig: Sendable, Equatable {
    public struct Vision: Sendable, Equatable {
        public var imageSize = 224
        public var patchSize = 16
        public var layers = 12
        public var width = 768
        public var headWidth = 64
        public var mlpRatio = 4.0
        /// LayerScale initial value; when set, each block has `ls_1.gamma` / `ls_2.gamma`.
        public var layerScale: Double? = nil
        /// `no_ln_pre`: no `ln_pre` (the key is absent).
        public var noLayerNormPre = false
        /// "tok" (class token, the default), "avg" (mean of the patch tokens) or "none".
        public var poolType = "tok"
        /// `final_ln_after_pool`: `ln_post` is applied to the pooled vector instead of every token.
        public var finalLayerNormAfterPool = false

        public var heads: Int { width / headWidth }
        public var mlpWidth: Int { Int(Double(width) * mlpRatio) }
        public var gridSize: Int { imageSize / patchSize }
    }

    public struct Text: Sendable, Equatable {
        public var contextLength = 77
        public var vocabSize = 49408
        public var width = 512
        public var heads = 8
        public var layers = 12
        public var mlpRatio = 4.0
        public var layerScale: Double? = nil
        /// "argmax" (the row's largest token id, i.e. the end-of-text token; the default), "first" or "last".
        public var poolType = "argmax"
        /// `proj_bias`: the projection is an `nn.Linear` (`text_projection.weight`/`.bias`) instead of a matrix.
        public var projectionBias = false
        public var noCausalMask = false
        public var padID = 0

        public var mlpWidth: Int { Int(Double(width) * mlpRatio) }
    }

    /// The joint embedding size (`embed_dim`).
    public var embedDim = 512
    /// `quick_gelu`: OpenAI's x·σ(1.702x) in the MLPs; otherwise exact GELU (laion's ViT-H-14, HPS-v2).
    public var quickGELU = false
    public var vision = Vision()
    public var text = Text()
    /// LayerNorm epsilon (`norm_kwargs.eps`; `nn.LayerNorm`'s 1e-5 by default).
    public var layerNormEps: Float = 1e-5
    /// Preprocessing from a Hub `open_clip_config.json` (`preprocess_cfg`, open_clip's `PreprocessCfg` fields), when
    /// the file has it; nil = open_clip's default. The size is always the vision tower's `image_size`: open_clip
    /// overwrites `preprocess_cfg.size` with it when it builds the model (factory.py `create_model`,
    /// https://github.com/mlfoundations/open_clip/blob/30573618fc37/src/open_clip/factory.py#L610-L617).
    public var imageMean: [Double]? = nil
    public var imageStd: [Double]? = nil
    /// `preprocess_cfg.resize_mode` (default shortest).
    public var resizeMode: ResizeMode? = nil
    /// `preprocess_cfg.interpolation` (default bicubic).
    public var interpolation: Interpolation? = nil
    /// `preprocess_cfg.fill_color`: the padding value of `longest` (default 0).
    public var fillColor: Int? = nil

    /// open_clip's `resize_mode` values (`image_transform`'s evaluation branch,
    /// https://github.com/mlfoundations/open_clip/blob/30573618fc37/src/open_clip/transform.py#L409-L434).
    public enum ResizeMode: String, Codable, Sendable, CaseIterable {
        /// Shortest side to the size (torchvision `Resize(int)`), then `CenterCrop`.
        case shortest
        /// Longest side to the size (`ResizeKeepRatio(longest=1)`), then `CenterCropOrPad` with `fill_color`.
        case longest
        /// Both sides to the size, aspect not kept (torchvision `Resize((size, size))`), no crop.
        case squash
    }

    /// open_clip's `interpolation` values: `bilinear` is PIL's bilinear; `bicubic` and `random` (a training-only
    /// choice, bicubic at evaluation) are PIL's bicubic (v3.3.0 transform.py L345,
    /// https://github.com/mlfoundations/open_clip/blob/30573618fc37/src/open_clip/transform.py#L345).
    public enum Interpolation: String, Codable, Sendable, CaseIterable {
        case bicubic, bilinear, random
    }

    public init() {}

    /// open_clip's `model_configs/ViT-H-14.json` (the tower of HPS-v2 and laion/CLIP-ViT-H-14-laion2B-s32B-b79K),
    /// for when no config file is given: embed_dim 1024; vision 224 px, patch 14, 32 layers × 1280 (head width 80);
    /// text 77 tokens, 24 layers × 1024, 16 heads; exact GELU.
    public static let vitH14: OpenCLIPConfig = {
        var c = OpenCLIPConfig()
        c.embedDim = 1024
        c.vision.imageSize = 224
        c.vision.layers = 32
        c.vision.width = 1280
        c.vision.headWidth = 80
        c.vision.patchSize = 14
        c.text.contextLength = 77
        c.text.vocabSize = 49408
        c.text.width = 1024
        c.text.heads = 16
        c.text.layers = 24
        return c
    }()

    /// Reads an open_clip model config: a `model_configs/*.json` file, or a Hub `open_clip_config.json` (whose
    /// `model_cfg` holds the same fields and whose `preprocess_cfg` gives mean, std and resize mode).
    public static func load(_ url: URL) throws -> OpenCLIPConfig {
        let object = try ConfigFile.object(from: url)
        return try parse(object, file: url.path)
    }

    public static func parse(_ root: [String: Any], file: String) throws -> OpenCLIPConfig {
        let model = root["model_cfg"] as? [String: Any] ?? root
        func fail(_ message: String) -> ConfigFile.Error { ConfigFile.Error(file: file, message: message) }
        guard let visionObject = model["vision_cfg"] as? [String: Any],
            let textObject = model["text_cfg"] as? [String: Any]
        else {
            throw fail("not an open_clip model config: expected 'vision_cfg' and 'text_cfg'")
        }
        var c = OpenCLIPConfig()
        func int(_ o: [String: Any], _ key: String, _ path: String) throws -> Int? {
            guard let value = o[key], !(value is NSNull) else { return nil }
            if let n = value as? NSNumber, Double(n.intValue) == n.doubleValue { return n.intValue }
            throw fail("'\(path).\(key)' must be an integer, found \(value)")
        }
        func double(_ o: [String: Any], _ key: String) -> Double? { (o[key] as? NSNumber)?.doubleValue }
        func bool(_ o: [String: Any], _ key: String) -> Bool? { (o[key] as? NSNumber)?.boolValue }
        func string(_ o: [String: Any], _ key: String) -> String? { o[key] as? String }

        c.embedDim = try int(model, "embed_dim", "model") ?? c.embedDim
        c.quickGELU = bool(model, "quick_gelu") ?? false
        if let norm = model["norm_kwargs"] as? [String: Any], let eps = double(norm, "eps") {
            c.layerNormEps = Float(eps)
        }

        // Vision tower.
        if visionObject["layers"] is [Any] {
            throw fail("vision_cfg.layers is a list: the ResNet image tower is not supported")
        }
        for unsupported in ["timm_model_name"] where visionObject[unsupported] is String {
            throw fail("vision_cfg.\(unsupported) is set: timm image towers are not supported")
        }
        if bool(visionObject, "attentional_pool") == true { throw fail("vision_cfg.attentional_pool is not supported") }
        if let posType = string(visionObject, "pos_embed_type"), posType != "learnable" {
            throw fail("vision_cfg.pos_embed_type '\(posType)' is not supported (expected learnable)")
        }
        let imageSize = visionObject["image_size"]
        if imageSize is [Any] { throw fail("vision_cfg.image_size must be one integer (square images)") }
        c.vision.imageSize = try int(visionObject, "image_size", "vision_cfg") ?? c.vision.imageSize
        c.vision.patchSize = try int(visionObject, "patch_size", "vision_cfg") ?? c.vision.patchSize
        c.vision.layers = try int(visionObject, "layers", "vision_cfg") ?? c.vision.layers
        c.vision.width = try int(visionObject, "width", "vision_cfg") ?? c.vision.width
        c.vision.headWidth = try int(visionObject, "head_width", "vision_cfg") ?? c.vision.headWidth
        c.vision.mlpRatio = double(visionObject, "mlp_ratio") ?? c.vision.mlpRatio
        c.vision.layerScale = double(visionObject, "ls_init_value")
        c.vision.noLayerNormPre = bool(visionObject, "no_ln_pre") ?? false
        c.vision.poolType = string(visionObject, "pool_type") ?? c.vision.poolType
        c.vision.finalLayerNormAfterPool = bool(visionObject, "final_ln_after_pool") ?? false
        guard ["tok", "avg", "none"].contains(c.vision.poolType) else {
            throw fail("vision_cfg.pool_type '\(c.vision.poolType)' is not supported (expected tok, avg or none)")
        }

        // Text tower.
        if textObject["hf_model_name"] is String {
            throw fail("text_cfg.hf_model_name is set: Hugging Face text towers are not supported")
        }
        if bool(textObject, "embed_cls") == true { throw fail("text_cfg.embed_cls is not supported") }
        c.text.contextLength = try int(textObject, "context_length", "text_cfg") ?? c.text.contextLength
        c.text.vocabSize = try int(textObject, "vocab_size", "text_cfg") ?? c.text.vocabSize
        c.text.width = try int(textObject, "width", "text_cfg") ?? c.text.width
        c.text.heads = try int(textObject, "heads", "text_cfg") ?? c.text.heads
        c.text.layers = try int(textObject, "layers", "text_cfg") ?? c.text.layers
        c.text.mlpRatio = double(textObject, "mlp_ratio") ?? c.text.mlpRatio
        c.text.layerScale = double(textObject, "ls_init_value")
        c.text.poolType = string(textObject, "pool_type") ?? c.text.poolType
        c.text.projectionBias = bool(textObject, "proj_bias") ?? false
        c.text.noCausalMask = bool(textObject, "no_causal_mask") ?? false
        c.text.padID = try int(textObject, "pad_id", "text_cfg") ?? 0
        if let projType = string(textObject, "proj_type"), projType != "linear" {
            throw fail("text_cfg.proj_type '\(projType)' is not supported (expected linear)")
        }
        guard ["argmax", "first", "last"].contains(c.text.poolType) else {
            throw fail("text_cfg.pool_type '\(c.text.poolType)' is not supported (expected argmax, first or last)")
        }

        if let preprocess = root["preprocess_cfg"] as? [String: Any] {
            // open_clip's image_transform takes a single number for all three channels too.
            func channels(_ key: String) throws -> [Double]? {
                guard let value = preprocess[key], !(value is NSNull) else { return nil }
                if let n = value as? NSNumber { return Array(repeating: n.doubleValue, count: 3) }
                if let list = value as? [NSNumber], list.count == 3 { return list.map(\.doubleValue) }
                throw fail("'preprocess_cfg.\(key)' must be a number or a list of 3 numbers, found \(value)")
            }
            func choice<E: RawRepresentable & CaseIterable>(_ key: String, _: E.Type) throws -> E?
            where E.RawValue == String {
                guard let value = preprocess[key], !(value is NSNull) else { return nil }
                guard let text = value as? String, let parsed = E(rawValue: text) else {
                    let known = E.allCases.map(\.rawValue).joined(separator: ", ")
                    throw fail("'preprocess_cfg.\(key)' is \(value), not one of \(known)")
                }
                return parsed
            }
            c.imageMean = try channels("mean")
            c.imageStd = try channels("std")
            c.resizeMode = try choice("resize_mode", ResizeMode.self)
            c.interpolation = try choice("interpolation", Interpolation.self)
            c.fillColor = try int(preprocess, "fill_color", "preprocess_cfg")
            if let fill = c.fillColor, !(0...255).contains(fill) {
                throw fail("'preprocess_cfg.fill_color' must be a pixel value in 0...255, found \(fill)")
            }
            if let std = c.imageStd, std.contains(0) { throw fail("'preprocess_cfg.std' has a zero") }
        }
        try c.validate(file: file)
        return c
    }

    /// What does not fit in the config's numbers, keys as the file spells them; empty when it is fine.
    public func problems() -> [String] {
        var c = ConfigChecks()
        c.size("embed_dim", embedDim)
        c.size("vision_cfg.image_size", vision.imageSize, limit: 1 << 16)
        c.size("vision_cfg.patch_size", vision.patchSize, limit: 1 << 16)
        c.multiple("vision_cfg.image_size", vision.imageSize, of: "patch_size", vision.patchSize)
        c.size("vision_cfg.layers", vision.layers, limit: ConfigChecks.countLimit)
        c.size("vision_cfg.width", vision.width)
        c.size("vision_cfg.head_width", vision.headWidth)
        c.multiple("vision_cfg.width", vision.width, of: "head_width", vision.headWidth)
        c.positive("vision_cfg.mlp_ratio", vision.mlpRatio)
        if vision.mlpRatio.isFinite, Double(vision.width) * vision.mlpRatio >= Double(ConfigChecks.sizeLimit) {
            c.add(
                "vision_cfg.mlp_ratio: expected width × mlp_ratio under \(ConfigChecks.sizeLimit), "
                    + "found \(vision.mlpRatio)")
        }
        c.size("text_cfg.context_length", text.contextLength)
        c.size("text_cfg.vocab_size", text.vocabSize)
        c.size("text_cfg.width", text.width)
        c.size("text_cfg.heads", text.heads, limit: ConfigChecks.countLimit)
        c.multiple("text_cfg.width", text.width, of: "heads", text.heads)
        c.size("text_cfg.layers", text.layers, limit: ConfigChecks.countLimit)
        c.positive("text_cfg.mlp_ratio", text.mlpRatio)
        if text.mlpRatio.isFinite, Double(text.width) * text.mlpRatio >= Double(ConfigChecks.sizeLimit) {
            c.add(
                "text_cfg.mlp_ratio: expected width × mlp_ratio under \(ConfigChecks.sizeLimit), "
                    + "found \(text.mlpRatio)")
        }
        if text.vocabSize > 0 { c.id("text_cfg.pad_id", text.padID, inside: "vocab_size", text.vocabSize) }
        c.positive("norm_kwargs.eps", Double(layerNormEps))
        return c.problems
    }

    func validate(file: String) throws {
        var c = ConfigChecks()
        problems().forEach { c.add($0) }
        try c.check(file: file)
    }

    public var activation: Activation { quickGELU ? .quickGelu : .gelu }

    /// A one-line description of the architecture, for error messages.
    public var summary: String {
        "vision \(vision.layers) blocks × width \(vision.width), patch \(vision.patchSize), \(vision.imageSize) px; "
            + "text \(text.layers) blocks × width \(text.width); embed \(embedDim)"
    }
}
