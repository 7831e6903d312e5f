import Checkpoints
import Engine
import Foundation

/// Reading a VideoAlign reward checkpoint folder as users download it (KwaiVGI/VideoReward), the layout of
/// VideoAlign's `load_model_from_checkpoint` (the seed's utils.py) and `create_model_and_processor` (train_reward.py):
/// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/models/videoalign/utils.py
///
///     FOLDER/model_config.json          data_config, model_config, peft_lora_config, inference_config
///     FOLDER/checkpoint-<N>/            the highest N is loaded unless a step is asked for (a missing step falls
///                                       back to the highest, as the seed does), holding either
///         model.pth                     the whole model's state dict (torch.save), or
///         adapter_model.safetensors     peft's LoRA tensors (`base_model.model.<module>.lora_A/B.weight`), with
///         adapter_config.json           its r / lora_alpha / use_rslora (else peft_lora_config's), and
///         non_lora_state_dict.pth       the trained tensors outside LoRA (`base_model.model.<key>`): `rm_head`, the
///                                       embedding resized to the tokenizer with the three reward tokens, and
///                                       whatever of the vision tower was trained.
///
/// The LoRA checkpoint is applied over the base Qwen2-VL model that `model_config.model_name_or_path` names
/// ("Qwen/Qwen2-VL-2B-Instruct"; the seed reads it from "./Qwen2-VL-2B-Instruct"): a transformers folder with
/// config.json (the hub's transformers 4 layout or transformers 5's) and safetensors (`visual.*`, `model.*`, or
/// transformers 5's `model.visual.*`, `model.language_model.*`). Its architecture comes from that config.json; its
/// vocabulary size from the embedding actually loaded (the reward model's is resized to its tokenizer).
///
/// LoRA is merged into the weights: `W + B·A · lora_alpha / r` (`/ sqrt(r)` with rsLoRA), in float32, which is
/// peft's `base(x) + lora_B(lora_A(x)) · scaling` in eval:
/// https://github.com/huggingface/peft/blob/v0.13.2/src/peft/tuners/lora/layer.py
public enum VideoRewardCheckpoint {
    public enum Error: Swift.Error, CustomStringConvertible, Equatable {
        case noCheckpoint(folder: String)
        case noWeights(folder: String)
        case noBaseModel(folder: String, tried: [String])
        case lora(file: String, key: String, reason: String)
        case unsupported(file: String, reason: String)

        public var description: String {
            switch self {
            case .noCheckpoint(let folder):
                return "\(folder): no checkpoint-<step> folder (VideoAlign's load_model_from_checkpoint layout)"
            case .noWeights(let folder):
                return "\(folder): neither model.pth nor adapter_model.safetensors with non_lora_state_dict.pth"
            case .noBaseModel(let folder, let tried):
                return "\(folder): the LoRA checkpoint needs its base Qwen2-VL model (a folder with config.json); "
                    + "looked in " + tried.joined(separator: ", ") + "; pass it with base:"
            case .lora(let file, let key, let reason): return "\(file): \(key): \(reason)"
            case .unsupported(let file, let reason): return "\(file): \(reason)"
            }
        }
    }

    /// The `checkpoint-<N>` folder to read: `step`'s when it exists, else the highest.
    public static func stepFolder(in folder: URL, step: Int? = nil) throws -> URL {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        let steps = names.compactMap { name -> (Int, String)? in
            guard name.hasPrefix("checkpoint-"), let n = Int(name.dropFirst("checkpoint-".count)) else { return nil }
            var isFolder: ObjCBool = false
            let path = folder.appendingPathComponent(name).path
            return FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) && isFolder.boolValue
                ? (n, name) : nil
        }.sorted { $0.0 > $1.0 }
        guard let latest = steps.first else { throw Error.noCheckpoint(folder: folder.path) }
        let chosen = steps.first { $0.0 == step }?.1 ?? latest.1
        return folder.appendingPathComponent(chosen, isDirectory: true)
    }

    /// The base model folder: `base` when given, else the last component of `model_name_or_path` (default
    /// "Qwen2-VL-2B-Instruct") inside the checkpoint folder or beside it, or `model_name_or_path` itself as a path.
    public static func baseFolder(for folder: URL, config: VideoAlignConfig, base: URL?) throws -> URL {
        if let base { return base }
        let name = config.modelConfig.modelNameOrPath ?? "Qwen2-VL-2B-Instruct"
        let last = URL(fileURLWithPath: name).lastPathComponent
        var candidates = [
            folder.appendingPathComponent(last, isDirectory: true),
            folder.deletingLastPathComponent().appendingPathComponent(last, isDirectory: true)
        ]
        if name.hasPrefix("/") || name.hasPrefix(".") {
            candidates.append(URL(fileURLWithPath: name, isDirectory: true))
        }
        if let found = candidates.first(where: {
            FileManager.default.fileExists(atPath: $0.appendingPathComponent("config.json").path)
        }) {
            return found
        }
        throw Error.noBaseModel(folder: folder.path, tried: candidates.map(\.path))
    }

    /// A checkpoint key in the model's names (transformers 4's), or nil for tensors the reward model does not use
    /// (`lm_head`, and the frozen copy peft keeps of a module it trains whole): peft's `base_model.model.` prefix,
    /// `.base_layer` and `.modules_to_save.default` dropped, transformers 5's `model.visual.` /
    /// `model.language_model.` renamed.
    static func modelKey(_ key: String) -> String? {
        var k = key
        if k.hasPrefix("base_model.model.") { k.removeFirst("base_model.model.".count) }
        if k.contains(".original_module.") { return nil }
        k = k.replacingOccurrences(of: ".base_layer.", with: ".")
        k = k.replacingOccurrences(of: ".modules_to_save.default.", with: ".")
        if k.hasPrefix("model.visual.") {
            k = "visual." + k.dropFirst("model.visual.".count)
        } else if k.hasPrefix("model.language_model.") {
            k = "model." + k.dropFirst("model.language_model.".count)
        }
        return k.hasPrefix("lm_head.") ? nil : k
    }

    /// `(module, "A" or "B")` of a LoRA key (`<module>.lora_A.weight`, or with peft's adapter name
    /// `<module>.lora_A.default.weight`), the module in model names.
    static func loraPart(_ key: String) -> (module: String, part: String)? {
        for part in ["A", "B"] {
            for suffix in [".lora_\(part).weight", ".lora_\(part).default.weight"] where key.hasSuffix(suffix) {
                guard let module = modelKey(String(key.dropLast(suffix.count)) + ".weight") else { return nil }
                return (String(module.dropLast(".weight".count)), part)
            }
        }
        return nil
    }

    /// The LoRA scaling: adapter_config.json's when the checkpoint has one, else model_config.json's
    /// peft_lora_config.
    static func loraScaling(stepFolder: URL, config: VideoAlignConfig) throws -> Float {
        let file = stepFolder.appendingPathComponent("adapter_config.json")
        if FileManager.default.fileExists(atPath: file.path) {
            let object = try ConfigFile.object(from: file)
            guard let r = (object["r"] as? NSNumber)?.doubleValue, r > 0,
                let alpha = (object["lora_alpha"] as? NSNumber)?.doubleValue
            else {
                throw ConfigFile.Error(file: file.path, message: "expected a positive 'r' and a 'lora_alpha'")
            }
            for key in ["rank_pattern", "alpha_pattern"] {
                if let pattern = object[key] as? [String: Any], !pattern.isEmpty {
                    throw Error.unsupported(file: file.path, reason: "\(key) (per-module ranks) is not supported")
                }
            }
            let rs = (object["use_rslora"] as? Bool) ?? false
            return Float(alpha / (rs ? r.squareRoot() : r))
        }
        guard let lora = config.peftLoraConfig else {
            throw ConfigFile.Error(
                file: file.path, message: "file not found, and model_config.json has no peft_lora_config")
        }
        let r = Double(lora.loraR)
        return Float(lora.loraAlpha / (lora.useRslora ? r.squareRoot() : r))
    }

    /// Whether the step folder holds a LoRA checkpoint (false: a whole `model.pth`); throws when it holds neither.
    static func isLoRA(_ stepFolder: URL) throws -> Bool {
        let exists = { (name: String) in
            FileManager.default.fileExists(atPath: stepFolder.appendingPathComponent(name).path)
        }
        if exists("model.pth") { return false }
        if exists("adapter_model.safetensors") && exists("non_lora_state_dict.pth") { return true }
        throw Error.noWeights(folder: stepFolder.path)
    }

    /// Every tensor of the reward model in model names, LoRA merged: from `model.pth`, or from the base model, the
    /// non-LoRA state dict over it, and the adapter.
    static func tensors(stepFolder: URL, baseFolder: () throws -> URL, config: VideoAlignConfig) throws
        -> [String: Tensor]
    {
        let full = stepFolder.appendingPathComponent("model.pth")
        let sources: [any CheckpointSource] =
            try isLoRA(stepFolder)
            ? [
                try openCheckpoint(path: baseFolder()),
                try openCheckpoint(path: stepFolder.appendingPathComponent("non_lora_state_dict.pth")),
                try openCheckpoint(path: stepFolder.appendingPathComponent("adapter_model.safetensors"))
            ] : [try openCheckpoint(path: full)]
        var weights: [String: Tensor] = [:]
        var lora: [String: (a: Tensor?, b: Tensor?, source: String)] = [:]
        for source in sources {
            for key in source.keys {
                if let (module, part) = loraPart(key) {
                    var entry = lora[module] ?? (nil, nil, source.source)
                    if part == "A" { entry.a = try source.tensor(key) } else { entry.b = try source.tensor(key) }
                    lora[module] = entry
                } else if let name = modelKey(key) {
                    weights[name] = try source.tensor(key)
                }
            }
        }
        guard !lora.isEmpty else { return weights }
        let scaling = try loraScaling(stepFolder: stepFolder, config: config)
        for (module, entry) in lora.sorted(by: { $0.key < $1.key }) {
            let key = module + ".weight"
            guard let a = entry.a, let b = entry.b else {
                throw Error.lora(file: entry.source, key: module, reason: "lora_A and lora_B must both be present")
            }
            guard let w = weights[key] else {
                throw Error.lora(file: entry.source, key: key, reason: "no such weight in the model to adapt")
            }
            guard w.ndim == 2, a.ndim == 2, b.ndim == 2, a.dim(0) == b.dim(1), a.dim(1) == w.dim(1),
                b.dim(0) == w.dim(0)
            else {
                throw Error.lora(
                    file: entry.source, key: module,
                    reason: "lora_B \(b.shape) · lora_A \(a.shape) does not fit the weight \(w.shape)")
            }
            let delta = b.asType(.float32).matmul(a.asType(.float32)) * scaling
            weights[key] = (w.asType(.float32) + delta).asType(w.dtype)
        }
        return weights
    }
}

extension VideoRewardModel {
    /// Builds the reward model from a VideoAlign checkpoint folder (``VideoRewardCheckpoint``): `model_config.json`,
    /// the latest `checkpoint-<N>` (or `step`'s), and for a LoRA checkpoint the base Qwen2-VL folder (`base`, or
    /// found from `model_name_or_path`). Strict over every key of the vision tower, the language model and
    /// `rm_head`. The reward tokens are the tokenizer's last three ids (VideoAlign adds them to Qwen2-VL's tokenizer
    /// and resizes the embedding to it), unless `specialTokenIDs` says otherwise; `padTokenID` matters only for
    /// the "last" and "mean" poolings. `dtype` nil keeps the checkpoint's.
    public static func load(
        from folder: URL, base: URL? = nil, step: Int? = nil, dtype: DType? = nil, specialTokenIDs: [Int]? = nil,
        padTokenID: Int = 151_643
    ) throws -> (model: VideoRewardModel, config: VideoAlignConfig) {
        try Engine.catchingErrors {
            let config = try VideoAlignConfig.load(folder)
            let stepFolder = try VideoRewardCheckpoint.stepFolder(in: folder, step: step)
            _ = try VideoRewardCheckpoint.isLoRA(stepFolder)
            let baseFolder = { try VideoRewardCheckpoint.baseFolder(for: folder, config: config, base: base) }
            // The architecture: the base folder's config.json, or one inside the step folder for a full model.pth.
            let configFolder =
                FileManager.default.fileExists(atPath: stepFolder.appendingPathComponent("config.json").path)
                ? stepFolder : try baseFolder()
            let configFile = configFolder.appendingPathComponent("config.json")
            let vision = try Qwen2VisionConfig.load(configFile)
            var text = try Qwen2_5_VLTextConfig.load(configFile)
            let top = try ConfigFile.object(from: configFile)
            let tensors = try VideoRewardCheckpoint.tensors(
                stepFolder: stepFolder, baseFolder: baseFolder, config: config)
            guard let embed = tensors["model.embed_tokens.weight"], embed.ndim == 2 else {
                throw ConfigFile.Error(file: stepFolder.path, message: "no model.embed_tokens.weight [vocab, hidden]")
            }
            text.vocabSize = embed.dim(0)
            let mode = config.pooling!
            let special =
                specialTokenIDs ?? (mode == .special ? (text.vocabSize - 3..<text.vocabSize).map { $0 } : [])
            let pooling = VideoRewardPooling(
                mode: mode, outputDim: config.modelConfig.outputDim, specialTokenIDs: special,
                padTokenID: padTokenID)
            let model = VideoRewardModel(
                vision: vision, text: text, pooling: pooling,
                videoTokenID: (top["video_token_id"] as? NSNumber)?.intValue ?? 151_656,
                imageTokenID: (top["image_token_id"] as? NSNumber)?.intValue ?? 151_655, dtype: dtype ?? .float32)
            try model.load(tensors, strict: true, dtype: dtype, source: stepFolder.path)
            return (model, config)
        }
    }
}
