import Engine
import Foundation
import Models
import NN

/// Building an ``OpenCLIPModel`` from checkpoint files, with an architecture check that names what a file holds.
public enum OpenCLIPLoading {
    /// open_clip configs by their sizes, only to name what a mismatched file holds (model sizes always come from
    /// the config): vision blocks, vision width, patch, text blocks, text width.
    static let knownArchitectures: [(name: String, sizes: [Int])] = [
        ("ViT-B-32", [12, 768, 32, 12, 512]), ("ViT-B-16", [12, 768, 16, 12, 512]),
        ("ViT-L-14", [24, 1024, 14, 12, 768]), ("ViT-H-14", [32, 1280, 14, 24, 1024]),
        ("ViT-g-14", [40, 1408, 14, 24, 1024]), ("ViT-bigG-14", [48, 1664, 14, 32, 1280])
    ]

    static func sizes(of config: OpenCLIPConfig) -> [Int] {
        [config.vision.layers, config.vision.width, config.vision.patchSize, config.text.layers, config.text.width]
    }

    static func name(of sizes: [Int]) -> String? { knownArchitectures.first { $0.sizes == sizes }?.name }

    /// The config's name for messages: the given one, else a known architecture with its sizes, else "the config".
    static func describe(_ config: OpenCLIPConfig, name: String?) -> String {
        name ?? self.name(of: sizes(of: config)) ?? "the configured model"
    }

    /// Checks that `dict` holds the tower sizes of `config` (when it holds that tower at all) and throws a
    /// ``RewardError/checkpointMismatch(file:expected:found:)`` naming the file, the expected key and what the file
    /// has instead.
    public static func checkArchitecture(_ dict: StateDict, config: OpenCLIPConfig, configName: String? = nil) throws {
        let keys = dict.keys
        func blocks(_ prefix: String) -> Int? {
            let indices = keys.compactMap { key -> Int? in
                guard key.hasPrefix(prefix) else { return nil }
                return Int(key.dropFirst(prefix.count).prefix { $0.isNumber })
            }
            return indices.max().map { $0 + 1 }
        }
        let visionBlocks = blocks("visual.transformer.resblocks.")
        let textBlocks = blocks("transformer.resblocks.")
        let conv = dict.shape("visual.conv1.weight")
        let token = dict.shape("token_embedding.weight")
        guard visionBlocks != nil || textBlocks != nil || conv != nil else {
            if keys.contains(where: { $0.hasPrefix("vision_model.") || $0.hasPrefix("text_model.") }) {
                throw RewardError.checkpointMismatch(
                    file: dict.file.path, expected: "an open_clip state dict (visual.*, transformer.*)",
                    found: "a transformers CLIPModel (vision_model.*, text_model.*)")
            }
            return
        }
        let found = [visionBlocks ?? 0, conv?[0] ?? 0, conv?.last ?? 0, textBlocks ?? 0, token?.last ?? 0]
        var expected = sizes(of: config)
        // A file holding one tower only is compared on that tower.
        if visionBlocks == nil { expected[0] = 0; expected[1] = 0; expected[2] = 0 }
        if textBlocks == nil { expected[3] = 0; expected[4] = 0 }
        guard found != expected else { return }
        let configName = describe(config, name: configName)
        let key =
            visionBlocks != nil
            ? "visual.transformer.resblocks.\(config.vision.layers - 1).ln_1.weight"
            : "transformer.resblocks.\(config.text.layers - 1).ln_1.weight"
        func text(_ s: [Int]) -> String {
            var parts: [String] = []
            if s[0] > 0 { parts.append("vision \(s[0]) blocks × width \(s[1]), patch \(s[2])") }
            if s[3] > 0 { parts.append("text \(s[3]) blocks × width \(s[4])") }
            return parts.joined(separator: "; ")
        }
        let foundName = name(of: found).map { "\($0) (\(text(found)))" } ?? text(found)
        throw RewardError.checkpointMismatch(
            file: dict.file.lastPathComponent,
            expected: "\(configName) key \(key) (\(text(expected)))", found: foundName)
    }

    /// Loads `files` into a new model: a key is taken from the first file that has it (later files are the base),
    /// every model key must be found, shapes must match, and each file's architecture is checked first.
    public static func model(
        config: OpenCLIPConfig, configName: String? = nil, files: [URL],
        dtype: DType = .float32
    ) throws -> OpenCLIPModel {
        let dicts = try files.map { try StateDict(contentsOf: $0, renaming: textTowerKey) }
        for dict in dicts { try checkArchitecture(dict, config: config, configName: configName) }
        let model = OpenCLIPModel(config, dtype: dtype)
        // open_clip's `attn_mask` buffer is not persistent, but some older exports carry it; `position_ids` neither.
        try model.load(from: dicts, ignoring: { $0 == "attn_mask" || $0.hasSuffix("position_ids") }, dtype: dtype)
        return model
    }

    /// open_clip's `CustomTextCLIP` (configs with `"custom_text": true`) keeps the same text tower under `text.`
    /// (`text.token_embedding.weight`, `text.transformer.…`, `text.text_projection`); `CLIP` has it at the top level.
    static func textTowerKey(_ key: String) -> String { key.hasPrefix("text.") ? String(key.dropFirst(5)) : key }

    /// The config at `url` (open_clip `model_configs/*.json` or a Hub `open_clip_config.json`) with its name (the file
    /// name without extension, unless it is the Hub's generic name).
    public static func config(at url: URL) throws -> (config: OpenCLIPConfig, name: String?) {
        let config = try OpenCLIPConfig.load(url)
        let base = url.deletingPathExtension().lastPathComponent
        return (config, base == "open_clip_config" ? nil : base)
    }
}
