import Engine
import Foundation
import Imaging

/// One reward of a `--reward` list: its registry name and its weight in the combined advantage (spec §4.8:
/// per-reward group normalisation, then the weighted sum).
public struct RewardSpec: Equatable, Sendable, CustomStringConvertible {
    public var name: String
    public var weight: Double

    public init(name: String, weight: Double = 1) {
        self.name = name
        self.weight = weight
    }

    public var description: String { weight == 1 ? name : "\(name):\(weight)" }
}

/// Where the reward checkpoints are. Each path defaults to the seed's layout under ``directory`` (the folder the
/// seed runs from); any of them can be given explicitly.
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

    public init(directory: URL = URL(fileURLWithPath: ".")) { self.directory = directory }
}

/// The rewards by name, parsing of `--reward` lists and construction of the models.
public enum RewardRegistry {
    /// Every reward name, in documentation order.
    public static let names = ["hpsv2.1", "pickscore", "clip-score", "aesthetic"]

    /// Parses `"hpsv2.1,pickscore:0.5"`: comma-separated names, each with an optional `:weight` (default 1). Order
    /// is kept; names must be known and appear once; weights must be finite numbers.
    public static func parse(_ text: String) throws -> [RewardSpec] {
        var specs: [RewardSpec] = []
        for rawItem in text.split(separator: ",", omittingEmptySubsequences: false) {
            let item = rawItem.trimmingCharacters(in: .whitespaces)
            guard !item.isEmpty else { throw RewardError.invalidSpecification("reward list '\(text)': empty entry (expected name[:weight],…)") }
            let parts = item.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            let name = parts[0].trimmingCharacters(in: .whitespaces).lowercased()
            guard names.contains(name) else {
                throw RewardError.invalidSpecification("unknown reward '\(parts[0])' (available: \(names.joined(separator: ", ")))")
            }
            var weight = 1.0
            if parts.count == 2 {
                let weightText = parts[1].trimmingCharacters(in: .whitespaces)
                guard let value = Double(weightText), value.isFinite else {
                    throw RewardError.invalidSpecification("reward '\(name)': weight '\(weightText)' is not a finite number")
                }
                weight = value
            }
            guard !specs.contains(where: { $0.name == name }) else {
                throw RewardError.invalidSpecification("reward '\(name)' is listed twice in '\(text)'")
            }
            specs.append(RewardSpec(name: name, weight: weight))
        }
        guard !specs.isEmpty else { throw RewardError.invalidSpecification("empty reward list") }
        return specs
    }

    /// Builds the named reward model from `locations`.
    public static func makeModel(_ name: String, locations: RewardLocations, dtype: DType = .float32) throws -> any ImageRewardModel {
        let dir = locations.directory
        switch name {
        case "hpsv2.1":
            let hpsFolder = dir.appendingPathComponent("hps_ckpt")
            let hpsCandidates = ["HPS_v2.1_compressed.pt", "HPS_v2.1_compressed.safetensors"]
                .map(hpsFolder.appendingPathComponent)
            guard let hps = locations.hpsCheckpoint ?? hpsCandidates.first(where: RewardFiles.exists) else {
                throw RewardError.missingFile(path: hpsCandidates[0].path, expected: RewardFiles.hpsFiles)
            }
            let openCLIP = locations.hpsOpenCLIPCheckpoint ?? (try? RewardFiles.first(
                in: hpsFolder, ["open_clip_pytorch_model.safetensors", "open_clip_model.safetensors", "open_clip_pytorch_model.bin"],
                expected: "the open_clip ViT-H-14 weights"))
            let defaultConfig = hpsFolder.appendingPathComponent("ViT-H-14.json")
            let config = locations.hpsConfig ?? (RewardFiles.exists(defaultConfig) ? defaultConfig : nil)
            return try HPSv21Reward(openCLIPCheckpoint: openCLIP, hpsCheckpoint: hps, config: config,
                                    vocabulary: locations.openCLIPVocabulary, dtype: dtype)
        case "pickscore":
            return try PickScoreReward(folder: locations.pickScoreModel ?? dir.appendingPathComponent("PickScore_v1"), dtype: dtype)
        case "clip-score":
            return try CLIPScoreReward(folder: locations.clipScoreModel ?? dir.appendingPathComponent("DFN5B-CLIP-ViT-H-14-378"), dtype: dtype)
        case "aesthetic":
            let mlp = try locations.aestheticMLP ?? RewardFiles.first(
                in: dir, ["sac+logos+ava1-l14-linearMSE.safetensors", "sac+logos+ava1-l14-linearMSE.pth"],
                expected: "the LAION aesthetic MLP")
            return try AestheticReward(clipFolder: locations.aestheticCLIPModel ?? dir.appendingPathComponent("clip-vit-large-patch14"),
                                       mlpCheckpoint: mlp, dtype: dtype)
        default:
            throw RewardError.invalidSpecification("unknown reward '\(name)' (available: \(names.joined(separator: ", ")))")
        }
    }
}

/// Several rewards with their weights, in the order the `--reward` list gave them: what a trainer scores each batch
/// of decoded images with. Combining them is the trainer's part (spec §4.8: group-normalise each reward's scores,
/// then sum the advantages with these weights).
public final class RewardSet {
    public let entries: [(spec: RewardSpec, model: any ImageRewardModel)]

    public var specs: [RewardSpec] { entries.map(\.spec) }

    public init(_ entries: [(spec: RewardSpec, model: any ImageRewardModel)]) {
        precondition(entries.allSatisfy { $0.spec.name == $0.model.name },
                     "RewardSet: a spec's name must be its model's name")
        self.entries = entries
    }

    /// Parses `specification` (``RewardRegistry/parse(_:)``) and builds every model from `locations`.
    public convenience init(specification: String, locations: RewardLocations, dtype: DType = .float32) throws {
        let specs = try RewardRegistry.parse(specification)
        self.init(try specs.map { ($0, try RewardRegistry.makeModel($0.name, locations: locations, dtype: dtype)) })
    }

    /// One row of scores per reward, in order: `result[r][i]` is reward r of image i against prompt i.
    public func scores(images: [RGBImage], prompts: [String]) throws -> [(spec: RewardSpec, scores: [Double])] {
        try entries.map { ($0.spec, try $0.model.scores(images: images, prompts: prompts)) }
    }

    /// Σ_r weight_r · score_r per image (the raw weighted sum, for display; training normalises per reward first).
    public static func weightedSum(_ rows: [(spec: RewardSpec, scores: [Double])]) -> [Double] {
        guard let count = rows.first?.scores.count else { return [] }
        return (0..<count).map { i in rows.reduce(0) { $0 + $1.spec.weight * $1.scores[i] } }
    }
}
