import Checkpoints
import Foundation

/// The `model_config.json` of a VideoAlign reward checkpoint folder (KwaiVGI/VideoReward as users download it): the
/// dataclasses VideoAlign's `train_reward.py` saves (`save_configs_to_json`) and its inference reads back
/// (`load_configs_from_json`), plus the `inference_config` means and standard deviations its `_norm` uses.
/// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/models/videoalign/inference.py
///
/// `data_config` and `model_config` are required; their absent fields take the dataclass defaults (data.py's
/// `DataConfig`, utils.py's `ModelConfig`). `training_args` is not read. Unknown keys are ignored.
public struct VideoAlignConfig: Codable, Sendable, Equatable {
    /// How a video is sampled and prompted (VideoAlign's `DataConfig`).
    public var dataConfig: VideoAlignInputDataConfig
    public var modelConfig: ModelConfig
    public var peftLoraConfig: LoRAConfig?
    public var inferenceConfig: InferenceConfig?

    enum CodingKeys: String, CodingKey {
        case dataConfig = "data_config", modelConfig = "model_config", peftLoraConfig = "peft_lora_config"
        case inferenceConfig = "inference_config"
    }

    /// The reward model's shape (VideoAlign's `ModelConfig`).
    public struct ModelConfig: Codable, Sendable, Equatable {
        /// The base model, e.g. "Qwen/Qwen2-VL-2B-Instruct" (the seed loads it from "./Qwen2-VL-2B-Instruct").
        public var modelNameOrPath: String?
        /// Outputs of `rm_head` per position (1 for the released checkpoint: one score per reward token).
        public var outputDim = 1
        /// Whether the tokenizer got the three reward tokens, which then choose the positions read.
        public var useSpecialTokens = false
        /// "last", "mean" or "special" (forced to "special" when `useSpecialTokens`).
        public var rewardToken = "last"
        public var torchDtype: String?

        enum CodingKeys: String, CodingKey {
            case modelNameOrPath = "model_name_or_path", outputDim = "output_dim"
            case useSpecialTokens = "use_special_tokens", rewardToken = "reward_token", torchDtype = "torch_dtype"
        }

        public init() {}

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = ModelConfig()
            modelNameOrPath = try c.decodeIfPresent(String.self, forKey: .modelNameOrPath)
            outputDim = try c.decodeIfPresent(Int.self, forKey: .outputDim) ?? d.outputDim
            useSpecialTokens = try c.decodeIfPresent(Bool.self, forKey: .useSpecialTokens) ?? d.useSpecialTokens
            rewardToken = try c.decodeIfPresent(String.self, forKey: .rewardToken) ?? d.rewardToken
            torchDtype = try c.decodeIfPresent(String.self, forKey: .torchDtype)
        }
    }

    /// The LoRA the reward model was trained with (VideoAlign's `PEFTLoraConfig`).
    public struct LoRAConfig: Codable, Sendable, Equatable {
        public var loraEnable = false
        public var visionLora = false
        public var loraR = 16
        public var loraAlpha: Double = 32
        public var useRslora = false

        enum CodingKeys: String, CodingKey {
            case loraEnable = "lora_enable", visionLora = "vision_lora", loraR = "lora_r", loraAlpha = "lora_alpha"
            case useRslora = "use_rslora"
        }

        public init() {}

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = LoRAConfig()
            loraEnable = try c.decodeIfPresent(Bool.self, forKey: .loraEnable) ?? d.loraEnable
            visionLora = try c.decodeIfPresent(Bool.self, forKey: .visionLora) ?? d.visionLora
            loraR = try c.decodeIfPresent(Int.self, forKey: .loraR) ?? d.loraR
            loraAlpha = try c.decodeIfPresent(Double.self, forKey: .loraAlpha) ?? d.loraAlpha
            useRslora = try c.decodeIfPresent(Bool.self, forKey: .useRslora) ?? d.useRslora
        }
    }

    /// The statistics `_norm` standardises the raw scores with (KwaiVGI/VideoReward: VQ 3.6757 ± 2.2476, MQ
    /// 1.1646 ± 1.3811, TA 2.8105 ± 2.5121).
    public struct InferenceConfig: Codable, Sendable, Equatable {
        public var vqMean: Double
        public var vqStd: Double
        public var mqMean: Double
        public var mqStd: Double
        public var taMean: Double
        public var taStd: Double

        enum CodingKeys: String, CodingKey {
            case vqMean = "VQ_mean", vqStd = "VQ_std", mqMean = "MQ_mean", mqStd = "MQ_std", taMean = "TA_mean"
            case taStd = "TA_std"
        }

        public init(vqMean: Double, vqStd: Double, mqMean: Double, mqStd: Double, taMean: Double, taStd: Double) {
            (self.vqMean, self.vqStd, self.mqMean, self.mqStd) = (vqMean, vqStd, mqMean, mqStd)
            (self.taMean, self.taStd) = (taMean, taStd)
        }
    }

    public init(
        dataConfig: VideoAlignInputDataConfig = VideoAlignInputDataConfig(), modelConfig: ModelConfig = ModelConfig(),
        peftLoraConfig: LoRAConfig? = nil, inferenceConfig: InferenceConfig? = nil
    ) {
        self.dataConfig = dataConfig
        self.modelConfig = modelConfig
        self.peftLoraConfig = peftLoraConfig
        self.inferenceConfig = inferenceConfig
    }

    /// The pooling `Qwen2VLRewardModelBT` ends up with: special tokens override `reward_token`.
    public var pooling: VideoRewardPooling.Mode? {
        modelConfig.useSpecialTokens ? .special : VideoRewardPooling.Mode(rawValue: modelConfig.rewardToken)
    }

    /// What does not fit; empty when it is fine.
    public func problems() -> [String] {
        var c = ConfigChecks()
        c.size("model_config.output_dim", modelConfig.outputDim, limit: ConfigChecks.countLimit)
        if pooling == nil {
            c.add(
                "model_config.reward_token: expected \"last\", \"mean\" or \"special\", found "
                    + "\"\(modelConfig.rewardToken)\"")
        }
        if let fps = dataConfig.fps { c.positive("data_config.fps", fps) }
        if let frames = dataConfig.numFrames, !(frames >= 1 && frames < 1e6 && frames == frames.rounded()) {
            c.add("data_config.num_frames: expected a positive whole frame count, found \(frames)")
        }
        if dataConfig.fps == nil && dataConfig.numFrames == nil {
            c.add("data_config: expected fps or num_frames, found neither")
        }
        c.size("data_config.max_frame_pixels", dataConfig.maxFramePixels)
        if let lora = peftLoraConfig, lora.loraEnable {
            c.size("peft_lora_config.lora_r", lora.loraR)
            if !lora.loraAlpha.isFinite { c.add("peft_lora_config.lora_alpha: expected a finite number") }
        }
        if let s = inferenceConfig {
            for (key, value) in [("VQ_std", s.vqStd), ("MQ_std", s.mqStd), ("TA_std", s.taStd)]
            where !(value.isFinite && value != 0) {
                c.add("inference_config.\(key): expected a finite nonzero number, found \(value)")
            }
            for (key, value) in [("VQ_mean", s.vqMean), ("MQ_mean", s.mqMean), ("TA_mean", s.taMean)]
            where !value.isFinite {
                c.add("inference_config.\(key): expected a finite number, found \(value)")
            }
        }
        return c.problems
    }

    /// Reads `model_config.json` from a checkpoint folder (or the file itself), checked.
    public static func load(_ url: URL) throws -> VideoAlignConfig {
        let file =
            url.hasDirectoryPath || url.pathExtension.isEmpty ? url.appendingPathComponent("model_config.json") : url
        let config = try ConfigFile.decode(VideoAlignConfig.self, from: file)
        var checks = ConfigChecks()
        config.problems().forEach { checks.add($0) }
        try checks.check(file: file.path)
        return config
    }

    /// `VideoVLMRewardInference._norm` (what the seed's GRPO reads with `use_norm=True`): each score standardised by
    /// the file's mean and standard deviation; unchanged when the file has no `inference_config`.
    public func normalized(_ raw: VideoAlignScores) -> VideoAlignScores {
        guard let s = inferenceConfig else { return raw }
        return VideoAlignScores(
            vq: (raw.vq - s.vqMean) / s.vqStd, mq: (raw.mq - s.mqMean) / s.mqStd, ta: (raw.ta - s.taMean) / s.taStd)
    }

    /// The inverse of ``normalized(_:)``: `value · std + mean`, the scale the seed's README plots its reward curves
    /// on (VQ = VQ · 2.2476 + 3.6757, MQ = MQ · 1.3811 + 1.1646 with the released file).
    public func denormalized(_ normalized: VideoAlignScores) -> VideoAlignScores {
        guard let s = inferenceConfig else { return normalized }
        return VideoAlignScores(
            vq: normalized.vq * s.vqStd + s.vqMean, mq: normalized.mq * s.mqStd + s.mqMean,
            ta: normalized.ta * s.taStd + s.taMean)
    }
}

/// One video's VideoAlign scores: visual quality, motion quality, text alignment.
public struct VideoAlignScores: Sendable, Equatable {
    public var vq: Double
    public var mq: Double
    public var ta: Double
    /// `reward()`'s "Overall": the sum of the three (after normalisation when it was applied).
    public var overall: Double { vq + mq + ta }

    public init(vq: Double, mq: Double, ta: Double) {
        (self.vq, self.mq, self.ta) = (vq, mq, ta)
    }

    /// A row of the model's `[B, 3]` output (VQ, MQ, TA in the order of the reward tokens).
    public init(_ row: [Float]) {
        precondition(row.count == 3, "VideoAlignScores: expected 3 values (VQ, MQ, TA), got \(row.count)")
        self.init(vq: Double(row[0]), mq: Double(row[1]), ta: Double(row[2]))
    }
}
