import Engine
import Foundation
import Models

/// VideoAlign's VideoReward model as a reward (`videoalign-vq`, `videoalign-mq`, `videoalign-ta`,
/// `videoalign-overall`): each decoded clip and its prompt go through VideoAlign's frame sampling, prompt and
/// Qwen2-VL processor (``VideoAlignInputProcessor``), then the reward model (``VideoRewardModel``), one clip per call
/// as the seed scores them. The score is the head's value normalised by the checkpoint's `inference_config`
/// (`use_norm=True`, what the seed trains on); every head's normalised value is logged as info `VQ`, `MQ`, `TA` (the
/// run writes `vq_reward.txt` and `mq_reward.txt` from them), and as `VQ raw`, `MQ raw`, `TA raw` the de-normalised
/// values the seed's plots show (value · std + mean, the means and deviations read from `model_config.json`).
/// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/train_grpo_hunyuan.py
/// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/models/videoalign/inference.py
public final class VideoAlignReward: Reward {
    /// Which of the model's outputs is the score.
    public enum Head: String, CaseIterable, Sendable {
        case vq, mq, ta, overall

        public var rewardName: String { "videoalign-\(rawValue)" }
    }

    public let name: String
    public let head: Head
    let scorer: VideoAlignScorer

    public init(head: Head, scorer: VideoAlignScorer) {
        self.name = head.rewardName
        self.head = head
        self.scorer = scorer
    }

    public func score(_ samples: [GeneratedSample], prompts: [Prompt]) throws -> RewardScores {
        guard samples.count == prompts.count else {
            throw RewardError.invalidInput(
                "\(samples.count) samples but \(prompts.count) prompts (one prompt per sample)")
        }
        var result = RewardScores(scores: [], info: [:])
        for (sample, prompt) in zip(samples, prompts) {
            guard case .video(let frames, let fps) = sample, let first = frames.first else {
                throw RewardError.invalidInput(
                    "\(name) scores videos (VideoAlign samples frames by time); got a picture")
            }
            let video = VideoAlignInputVideo(
                frames: frames.map(\.pixels), height: first.height, width: first.width, fps: fps)
            let normalized = try scorer.normalizedScores(video, prompt: prompt.text)
            let raw = scorer.config.denormalized(normalized)
            result.scores.append(Self.value(of: head, in: normalized))
            for (key, value) in [
                ("VQ", normalized.vq), ("MQ", normalized.mq), ("TA", normalized.ta), ("VQ raw", raw.vq),
                ("MQ raw", raw.mq), ("TA raw", raw.ta)
            ] {
                result.info[key, default: []].append(value)
            }
        }
        return result
    }

    static func value(of head: Head, in scores: VideoAlignScores) -> Double {
        switch head {
        case .vq: return scores.vq
        case .mq: return scores.mq
        case .ta: return scores.ta
        case .overall: return scores.overall
        }
    }
}

/// One loaded VideoReward checkpoint with its processor, shared by the heads a run names (the 2B model loads once).
public final class VideoAlignScorer: @unchecked Sendable {
    public let model: VideoRewardModel
    public let config: VideoAlignConfig
    public let processor: VideoAlignInputProcessor
    public let settings: VideoAlignInputSettings

    /// The checkpoint folder as users download it (`model_config.json`, `checkpoint-<N>/`), the base Qwen2-VL folder
    /// (`base`, else found from `model_name_or_path`), which also holds the processor files.
    public init(folder: URL, base: URL? = nil, dtype: DType? = nil) throws {
        let (model, config) = try VideoRewardModel.load(from: folder, base: base, dtype: dtype)
        let baseFolder = try VideoRewardCheckpoint.baseFolder(for: folder, config: config, base: base)
        self.model = model
        self.config = config
        self.processor = try VideoAlignInputProcessor.load(
            from: baseFolder, rewardTokens: config.modelConfig.useSpecialTokens)
        self.settings = try VideoAlignInputSettings(dataConfig: config.dataConfig)
    }

    /// VideoAlign's `reward(..., use_norm=True)` for one clip.
    public func normalizedScores(_ video: VideoAlignInputVideo, prompt: String) throws -> VideoAlignScores {
        let batch = try processor.batch(videos: [video], prompts: [prompt], settings: settings)
        let raw = try Engine.catchingErrors {
            try model(
                inputIDs: batch.inputIDs, attentionMask: batch.attentionMask,
                pixelValuesVideos: batch.pixelValuesVideos.asType(model.rmHead.weight.dtype),
                videoGridTHW: batch.videoGridTHW)
        }
        return config.normalized(VideoAlignScores(raw.asType(.float32).toArray(Float.self)))
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var loaded: [String: VideoAlignScorer] = [:]

    /// The scorer of `folder`, loaded once per process.
    public static func shared(folder: URL, base: URL? = nil) throws -> VideoAlignScorer {
        lock.lock()
        defer { lock.unlock() }
        let key = folder.standardizedFileURL.path + "|" + (base?.standardizedFileURL.path ?? "")
        if let scorer = loaded[key] { return scorer }
        let scorer = try VideoAlignScorer(folder: folder, base: base)
        loaded[key] = scorer
        return scorer
    }
}
