import Engine
import Foundation
import Imaging
import Models
import NN
import Tokenizers

/// HPS-v2.1, DanceGRPO's default image reward (`train_grpo_flux.py`, model loading and scoring linked below):
/// open_clip ViT-H-14 built from `open_clip_pytorch_model.bin`, then overwritten by `HPS_v2.1_compressed.pt`'s
/// state dict; score = ⟨normalize(f_img), normalize(f_txt)⟩ — the diagonal of `image_features @ text_features.T`,
/// with no logit scale (typically 0.25–0.37). DanceGRPO computes it under fp16 autocast; this computes in float32
/// (fp16 quantises the score by ≈2.4e-4).
/// https://github.com/XueZeyue/DanceGRPO/blob/22b85efe5312089f07c027d5ba94db168656c9dc/fastvideo/train_grpo_flux.py#L662
/// https://github.com/XueZeyue/DanceGRPO/blob/22b85efe5312089f07c027d5ba94db168656c9dc/fastvideo/train_grpo_flux.py#L403
public final class HPSv21Reward: ImageRewardModel {
    public let name = "hpsv2.1"
    public var batchSize = 8
    public let model: OpenCLIPModel
    let encoders: OpenCLIPEncoders

    public var preprocessing: CLIPImagePreprocessing { encoders.preprocessing }

    /// - Parameters:
    ///   - openCLIPCheckpoint: open_clip's weights (`open_clip_pytorch_model.bin` or a safetensors conversion); nil
    ///     when the HPS file holds every weight (it does: DanceGRPO loads it strictly).
    ///   - hpsCheckpoint: `HPS_v2.1_compressed.pt` (or safetensors); its keys override the open_clip weights
    ///     (`state_dict.` nesting and `module.` prefixes are dropped).
    ///   - config: an open_clip model config JSON; nil = ViT-H-14.
    ///   - vocabulary: open_clip's `bpe_simple_vocab_16e6.txt.gz`; nil = the one next to the HPS or open_clip file
    ///     when there is one, else the copy bundled with the package — so the two files users download suffice.
    public init(
        openCLIPCheckpoint: URL?, hpsCheckpoint: URL, config: URL? = nil, vocabulary: URL? = nil,
        dtype: DType = .float32
    ) throws {
        let (modelConfig, configName) =
            try config.map { try OpenCLIPLoading.config(at: $0) } ?? (OpenCLIPConfig.vitH14, "ViT-H-14")
        let files = [hpsCheckpoint] + (openCLIPCheckpoint.map { [$0] } ?? [])
        for file in files where !RewardFiles.exists(file) {
            throw RewardError.missingFile(path: file.path, expected: RewardFiles.hpsFiles)
        }
        let vocabularyFile =
            try vocabulary ?? RewardFiles.openCLIPVocabulary(in: files.map { $0.deletingLastPathComponent() })
        guard RewardFiles.exists(vocabularyFile) else {
            throw RewardError.missingFile(
                path: vocabularyFile.path, expected: "open_clip's BPE vocabulary bpe_simple_vocab_16e6.txt.gz")
        }
        model = try OpenCLIPLoading.model(config: modelConfig, configName: configName, files: files, dtype: dtype)
        model.train(false)
        encoders = OpenCLIPEncoders(
            model: model,
            tokenizer: RewardFiles.openCLIPTokenizer(
                file: vocabularyFile.path, config: modelConfig, configFile: config?.path ?? "ViT-H-14 (built in)"
            ) { try CLIPTokenizer(openCLIPVocabulary: vocabularyFile) },
            preprocessing: .hpsv2(size: modelConfig.vision.imageSize))
    }

    /// A reward over an already built model (tests, benchmarks, other preprocessing).
    public init(model: OpenCLIPModel, tokenizer: CLIPTokenizer, preprocessing: CLIPImagePreprocessing? = nil) {
        self.model = model
        encoders = OpenCLIPEncoders(
            model: model, tokenizer: TokenizerSource(tokenizer),
            preprocessing: preprocessing ?? .hpsv2(size: model.config.vision.imageSize))
    }

    public func scores(images: [RGBImage], prompts: [String]) throws -> [Double] {
        try inBatches(images: images, prompts: prompts) { try encoders.cosineScores(images: $0, prompts: $1) }
    }

    /// Normalised image and text features `[B, E]` (open_clip's `output_dict` values), for inspection.
    public func features(images: [RGBImage], prompts: [String]) throws -> (image: Tensor, text: Tensor) {
        try encoders.normalizedFeatures(images: images[...], prompts: prompts[...])
    }
}

/// PickScore (`--use_pickscore`, DanceGRPO's `calc_probs`, linked below): transformers `CLIPModel`
/// `yuvalkirstain/PickScore_v1` with the CLIPProcessor of `laion/CLIP-ViT-H-14-laion2B-s32B-b79K`.
/// Score = ⟨normalize(image_embeds), normalize(text_embeds)⟩, **without** `logit_scale` (DanceGRPO does not apply
/// it; PickScore's own recipe multiplies by exp(logit_scale) ≈ 100). Each image is scored against its own prompt
/// (DanceGRPO used the batch's first prompt).
/// https://github.com/XueZeyue/DanceGRPO/blob/22b85efe5312089f07c027d5ba94db168656c9dc/fastvideo/train_grpo_flux.py#L417
public final class PickScoreReward: ImageRewardModel {
    public let name = "pickscore"
    public var batchSize = 8
    public let model: CLIPModel
    let encoders: TransformersCLIPEncoders

    public var preprocessing: CLIPImagePreprocessing { encoders.preprocessing }

    /// `folder`: the model in transformers layout (`config.json`, `model.safetensors`), with the tokenizer
    /// (`vocab.json`, `merges.txt`, …) in `tokenizer/` or in the folder itself, and the processor's
    /// `preprocessor_config.json` in the folder, `processor/` or `tokenizer/` (absent: CLIP's defaults).
    public init(folder: URL, dtype: DType = .float32) throws {
        model = try RewardFiles.transformersCLIP(folder: folder, dtype: dtype)
        model.train(false)
        let tokenizer = try RewardFiles.transformersTokenizer(in: folder, model: model.config.text)
        let preprocessing = try RewardFiles.clipProcessor(
            in: [folder, folder.appendingPathComponent("processor"), folder.appendingPathComponent("tokenizer")],
            imageSize: model.config.vision.imageSize)
        encoders = TransformersCLIPEncoders(model: model, tokenizer: tokenizer, preprocessing: preprocessing)
    }

    public init(model: CLIPModel, tokenizer: CLIPTokenizer, preprocessing: CLIPImagePreprocessing? = nil) {
        self.model = model
        encoders = TransformersCLIPEncoders(
            model: model, tokenizer: tokenizer,
            preprocessing: preprocessing ?? .clipProcessor(size: model.config.vision.imageSize))
    }

    public func scores(images: [RGBImage], prompts: [String]) throws -> [Double] {
        try inBatches(images: images, prompts: prompts) { try encoders.cosineScores(images: $0, prompts: $1) }
    }

    public func features(images: [RGBImage], prompts: [String]) throws -> (image: Tensor, text: Tensor) {
        try encoders.normalizedFeatures(images: images[...], prompts: prompts[...])
    }
}

/// CLIP score (the DanceGRPO paper's HPS + CLIP run; not in DanceGRPO's code): the cosine similarity of the
/// normalised image and text embeddings, raw (no ×100, no clipping at 0, no logit scale). The maintainer's model is
/// `apple/DFN5B-CLIP-ViT-H-14-378` (open_clip, 378 px); any CLIP works:
/// - an open_clip folder (`open_clip_config.json` + `open_clip_model.safetensors`/`open_clip_pytorch_model.bin`;
///   tokenizer `bpe_simple_vocab_16e6.txt.gz` or `vocab.json` + `merges.txt`, else open_clip's bundled vocabulary),
///   preprocessed as open_clip's `image_transform_v2` with the file's `preprocess_cfg` (DFN5B: `squash`, mean 0,
///   std 1; see ``CLIPImagePreprocessing/openCLIP(_:)``);
/// - a transformers CLIPModel folder, preprocessed as CLIPImageProcessor does.
public final class CLIPScoreReward: ImageRewardModel {
    public let name = "clip-score"
    public var batchSize = 8
    let encoders: any CLIPEncoders

    public var preprocessing: CLIPImagePreprocessing { encoders.preprocessing }

    public init(folder: URL, dtype: DType = .float32) throws {
        let openCLIPConfig = folder.appendingPathComponent("open_clip_config.json")
        if RewardFiles.exists(openCLIPConfig) {
            let (config, name) = try OpenCLIPLoading.config(at: openCLIPConfig)
            let weights = try RewardFiles.first(
                in: folder, ["open_clip_model.safetensors", "model.safetensors", "open_clip_pytorch_model.bin"],
                expected: "the open_clip weights")
            let model = try OpenCLIPLoading.model(config: config, configName: name, files: [weights], dtype: dtype)
            model.train(false)
            let tokenizer: TokenizerSource
            if RewardFiles.exists(folder.appendingPathComponent("vocab.json"))
                || RewardFiles.exists(folder.appendingPathComponent("tokenizer.json"))
            {
                let loaded = try CLIPTokenizer(directory: folder, cleaning: .openCLIP)
                tokenizer = RewardFiles.openCLIPTokenizer(
                    file: folder.path, config: config, configFile: openCLIPConfig.path
                ) { loaded }
                _ = try tokenizer.get()
            } else {
                let vocabulary = try RewardFiles.openCLIPVocabulary(in: [folder])
                tokenizer = RewardFiles.openCLIPTokenizer(
                    file: vocabulary.path, config: config, configFile: openCLIPConfig.path
                ) { try CLIPTokenizer(openCLIPVocabulary: vocabulary) }
            }
            encoders = OpenCLIPEncoders(
                model: model, tokenizer: tokenizer,
                preprocessing: RewardFiles.openCLIPPreprocessing(config, file: openCLIPConfig.path))
        } else {
            let model = try RewardFiles.transformersCLIP(folder: folder, dtype: dtype)
            model.train(false)
            let tokenizer = try RewardFiles.transformersTokenizer(in: folder, model: model.config.text)
            let preprocessing = try RewardFiles.clipProcessor(
                in: [folder, folder.appendingPathComponent("processor"), folder.appendingPathComponent("tokenizer")],
                imageSize: model.config.vision.imageSize)
            encoders = TransformersCLIPEncoders(model: model, tokenizer: tokenizer, preprocessing: preprocessing)
        }
    }

    public func scores(images: [RGBImage], prompts: [String]) throws -> [Double] {
        try inBatches(images: images, prompts: prompts) { try encoders.cosineScores(images: $0, prompts: $1) }
    }
}
