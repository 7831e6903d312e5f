import Engine
import Foundation
import Imaging

/// Where the reward checkpoints are. Each path defaults to DanceGRPO's layout under ``directory`` (the folder the
/// DanceGRPO runs from); any of them can be given explicitly.
public struct RewardLocations: Sendable {
    public var directory: URL
    /// `hps_ckpt/HPS_v2.1_compressed.{safetensors,pt}`.
    public var hpsCheckpoint: URL?
    /// `hps_ckpt/open_clip_pytorch_model.{safetensors,bin}` (optional: the HPS file holds every weight).
    public var hpsOpenCLIPCheckpoint: URL?
    /// An open_clip model config JSON (default: ViT-H-14; `hps_ckpt/ViT-H-14.json` when present).
    public var hpsConfig: URL?
    /// `bpe_simple_vocab_16e6.txt.gz` (default: next to the HPS files, else the copy bundled with the package).
    public var openCLIPVocabulary: URL?
    /// `PickScore_v1/` (transformers layout, with the processor's tokenizer and preprocessor_config.json).
    public var pickScoreModel: URL?
    /// `DFN5B-CLIP-ViT-H-14-378/` (open_clip or transformers layout).
    public var clipScoreModel: URL?
    /// `clip-vit-large-patch14/` (transformers layout).
    public var aestheticCLIPModel: URL?
    /// `sac+logos+ava1-l14-linearMSE.{safetensors,pth}`.
    public var aestheticMLP: URL?
    /// VideoAlign's VideoReward checkpoint folder (`model_config.json`, `checkpoint-<N>/`): `videoalign_ckpt/`, where
    /// the seed loads it from.
    public var videoAlignModel: URL?
    /// The Qwen2-VL-2B-Instruct folder the VideoReward checkpoint builds on (default: found from its
    /// `model_name_or_path`, inside or beside the checkpoint folder).
    public var videoAlignBase: URL?

    public init(directory: URL = URL(fileURLWithPath: ".")) { self.directory = directory }
}

/// The rewards by name, parsing of `--reward` lists and construction of the models.
public enum RewardRegistry {
    /// Every reward name, in documentation order.
    public static let names = ["hpsv2.1", "pickscore", "clip-score", "aesthetic"]

    /// Parses a list of reward models (``RewardSpec/parseList(_:)``), refusing any name that is not a model's.
    public static func parse(_ text: String) throws -> [RewardSpec] {
        let specs = try RewardSpec.parseList(text)
        if let unknown = specs.first(where: { !names.contains($0.name) }) {
            throw RewardError.invalidSpecification(
                "unknown reward '\(unknown.name)' (available: \(names.joined(separator: ", ")))")
        }
        return specs
    }

    /// Builds the named reward model from `locations`.
    public static func makeModel(_ name: String, locations: RewardLocations, dtype: DType = .float32) throws
        -> any ImageRewardModel
    {
        let dir = locations.directory
        switch name {
        case "hpsv2.1":
            let hpsFolder = dir.appendingPathComponent("hps_ckpt")
            let hpsCandidates = ["HPS_v2.1_compressed.pt", "HPS_v2.1_compressed.safetensors"]
                .map(hpsFolder.appendingPathComponent)
            guard let hps = locations.hpsCheckpoint ?? hpsCandidates.first(where: RewardFiles.exists) else {
                throw RewardError.missingFile(path: hpsCandidates[0].path, expected: RewardFiles.hpsFiles)
            }
            let openCLIP =
                locations.hpsOpenCLIPCheckpoint
                ?? (try? RewardFiles.first(
                    in: hpsFolder,
                    [
                        "open_clip_pytorch_model.safetensors", "open_clip_model.safetensors",
                        "open_clip_pytorch_model.bin"
                    ],
                    expected: "the open_clip ViT-H-14 weights"))
            let defaultConfig = hpsFolder.appendingPathComponent("ViT-H-14.json")
            let config = locations.hpsConfig ?? (RewardFiles.exists(defaultConfig) ? defaultConfig : nil)
            return try HPSv21Reward(
                openCLIPCheckpoint: openCLIP, hpsCheckpoint: hps, config: config,
                vocabulary: locations.openCLIPVocabulary, dtype: dtype)
        case "pickscore":
            return try PickScoreReward(
                folder: locations.pickScoreModel ?? dir.appendingPathComponent("PickScore_v1"), dtype: dtype)
        case "clip-score":
            return try CLIPScoreReward(
                folder: locations.clipScoreModel ?? dir.appendingPathComponent("DFN5B-CLIP-ViT-H-14-378"), dtype: dtype)
        case "aesthetic":
            let mlp =
                try locations.aestheticMLP
                ?? RewardFiles.first(
                    in: dir, ["sac+logos+ava1-l14-linearMSE.safetensors", "sac+logos+ava1-l14-linearMSE.pth"],
                    expected: "the LAION aesthetic MLP")
            return try AestheticReward(
                clipFolder: locations.aestheticCLIPModel ?? dir.appendingPathComponent("clip-vit-large-patch14"),
                mlpCheckpoint: mlp, dtype: dtype)
        default:
            throw RewardError.invalidSpecification(
                "unknown reward '\(name)' (available: \(names.joined(separator: ", ")))")
        }
    }
}
