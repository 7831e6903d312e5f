import Checkpoints
import Engine
import Foundation
import Imaging
import Models
import NN
import Tokenizers

/// `F.normalize(x, dim=-1)`: `x / max(‖x‖, 1e-12)` row by row.
func l2Normalized(_ x: Tensor) -> Tensor {
    x / x.square().sum(axis: -1, keepDims: true).sqrt().maximum(1e-12)
}

/// Row-wise ⟨a_i, b_i⟩ = the diagonal of `a · bᵀ`, `[B]`.
func rowDot(_ a: Tensor, _ b: Tensor) -> Tensor { (a * b).sum(axis: -1) }

/// The two encoders of a CLIP model, as the rewards use them.
protocol CLIPEncoders {
    var preprocessing: CLIPImagePreprocessing { get }
    /// `pixels [B, S, S, 3]` → image embeddings `[B, E]` (not normalised).
    func encodeImages(_ pixels: Tensor) -> Tensor
    /// Prompts → text embeddings `[B, E]` (not normalised).
    func encodeTexts(_ prompts: [String]) throws -> Tensor
}

/// A tokenizer read on first use: open_clip's 1.3 MB vocabulary takes a moment to parse, and a reward is often
/// built without scoring text (tests, checks). Whether the file exists is checked when the reward is built.
final class TokenizerSource: @unchecked Sendable {
    private let load: () throws -> CLIPTokenizer
    private var loaded: CLIPTokenizer?

    init(_ tokenizer: CLIPTokenizer) {
        loaded = tokenizer
        load = { tokenizer }
    }

    init(load: @escaping () throws -> CLIPTokenizer) { self.load = load }

    func get() throws -> CLIPTokenizer {
        if let loaded { return loaded }
        let tokenizer = try load()
        loaded = tokenizer
        return tokenizer
    }
}

extension CLIPEncoders {
    /// The preprocessed batch as a tensor `[B, S, S, 3]`.
    func pixels(_ images: ArraySlice<RGBImage>, dtype: DType = .float32) -> Tensor {
        let size = preprocessing.size
        return Tensor(preprocessing.batch(Array(images)), shape: [images.count, size, size, 3]).asType(dtype)
    }

    /// Normalised embeddings of each image and of its prompt; each distinct prompt is encoded once.
    func normalizedFeatures(images: ArraySlice<RGBImage>, prompts: ArraySlice<String>) throws -> (
        image: Tensor, text: Tensor
    ) {
        let image = l2Normalized(encodeImages(pixels(images)).asType(.float32))
        var unique: [String] = []
        var index: [String: Int32] = [:]
        let rows: [Int32] = prompts.map { prompt in
            if let i = index[prompt] { return i }
            index[prompt] = Int32(unique.count)
            unique.append(prompt)
            return Int32(unique.count - 1)
        }
        var text = l2Normalized(try encodeTexts(unique).asType(.float32))
        if unique.count != prompts.count { text = text.take(Tensor(rows), axis: 0) }
        return (image, text)
    }

    /// Cosine similarity of each image with its prompt (no logit scale).
    func cosineScores(images: ArraySlice<RGBImage>, prompts: ArraySlice<String>) throws -> [Double] {
        let (image, text) = try normalizedFeatures(images: images, prompts: prompts)
        let scores = rowDot(image, text)
        eval(scores)
        return scores.toArray(Float.self).map(Double.init)
    }
}

/// An open_clip model with open_clip's tokenizer (pad 0, context length from the config).
struct OpenCLIPEncoders: CLIPEncoders {
    let model: OpenCLIPModel
    let tokenizer: TokenizerSource
    let preprocessing: CLIPImagePreprocessing

    func encodeImages(_ pixels: Tensor) -> Tensor { model.encodeImage(pixels) }

    func encodeTexts(_ prompts: [String]) throws -> Tensor {
        let length = model.config.text.contextLength
        let tokenize = try tokenizer.get()
        // A vocabulary larger than the model's embedding table would index past it (garbage, not an error, in the
        // engine): the wrong vocabulary file for the checkpoint.
        guard tokenize.vocabularySize <= model.config.text.vocabSize else {
            throw RewardError.checkpointMismatch(
                file: "open_clip vocabulary",
                expected: "at most \(model.config.text.vocabSize) tokens (the model's vocab_size)",
                found: "\(tokenize.vocabularySize) tokens")
        }
        let batch = tokenize(prompts, maxLength: length, padding: .maxLength)
        return model.encodeText(TokenIDTensor.make(batch.ids))
    }
}

/// A transformers `CLIPModel` with its transformers tokenizer (padding to the longest prompt with an attention mask,
/// as DanceGRPO's `processor(text=…, padding=True, truncation=True, max_length=77)`).
struct TransformersCLIPEncoders: CLIPEncoders {
    let model: CLIPModel
    let tokenizer: CLIPTokenizer
    let preprocessing: CLIPImagePreprocessing

    func encodeImages(_ pixels: Tensor) -> Tensor { model.imageFeatures(pixels) }

    func encodeTexts(_ prompts: [String]) -> Tensor {
        let batch = tokenizer(prompts, maxLength: model.config.text.maxPositionEmbeddings, padding: .longest)
        let width = batch.ids.first?.count ?? 0
        let ids = TokenIDTensor.make(batch.ids)
        let mask = Tensor(batch.attentionMask.flatMap { $0.map(Int32.init) }, shape: [prompts.count, width])
        return model.textFeatures(ids, attentionMask: mask)
    }
}

// MARK: - Loading helpers

enum RewardFiles {
    /// What HPS-v2.1 needs, for messages: the two files DanceGRPO's README has users download (open_clip's vocabulary
    /// is bundled; safetensors conversions of either file are accepted too).
    static let hpsFiles =
        "HPS-v2.1's two files, HPS_v2.1_compressed.pt and open_clip_pytorch_model.bin, in hps_ckpt/ "
        + "under the reward folder (or their paths)"

    /// The first of `candidates` (relative to `folder`) that exists.
    static func first(in folder: URL, _ candidates: [String], expected: String) throws -> URL {
        for name in candidates {
            let url = folder.appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: url.path) { return url }
        }
        throw RewardError.missingFile(
            path: folder.appendingPathComponent(candidates[0]).path,
            expected: "\(expected); looked for \(candidates.joined(separator: ", ")) in \(folder.path)")
    }

    static func exists(_ url: URL) -> Bool { FileManager.default.fileExists(atPath: url.path) }

    /// A transformers tokenizer folder: `<folder>/tokenizer/` when it has `vocab.json` (transformers 4) or
    /// `tokenizer.json` (transformers 5), else `<folder>` itself; checked against the text tower of `model`, whose
    /// config is `<folder>/config.json`.
    static func transformersTokenizer(in folder: URL, model: CLIPTextConfig) throws -> CLIPTokenizer {
        for candidate in [folder.appendingPathComponent("tokenizer"), folder]
        where exists(candidate.appendingPathComponent("vocab.json"))
            || exists(candidate.appendingPathComponent("tokenizer.json"))
        {
            let tokenizer = try CLIPTokenizer(directory: candidate)
            try TokenizerFit.check(
                tokenizer, fits: model, sequenceLength: tokenizer.defaultMaxLength, tokenizer: candidate.path,
                model: folder.appendingPathComponent("config.json").path)
            return tokenizer
        }
        throw RewardError.missingFile(
            path: folder.appendingPathComponent("tokenizer/vocab.json").path,
            expected:
                """
                the CLIP tokenizer files (vocab.json and merges.txt, or tokenizer.json) in \(folder.path)/tokenizer/ \
                or \(folder.path)/
                """)
    }

    /// An open_clip tokenizer made on first use by `make`, checked then against the text tower of `config` (read
    /// from `configFile`); `file` names the tokenizer in the error.
    static func openCLIPTokenizer(
        file: String, config: OpenCLIPConfig, configFile: String, _ make: @escaping () throws -> CLIPTokenizer
    ) -> TokenizerSource {
        TokenizerSource {
            let tokenizer = try make()
            try TokenizerFit.check(
                ids: tokenizer.tokenIDRange, vocabularySize: config.text.vocabSize,
                sequenceLength: tokenizer.defaultMaxLength, maxPositions: config.text.contextLength,
                tokenizer: file, model: configFile)
            return tokenizer
        }
    }

    /// open_clip's vocabulary: `bpe_simple_vocab_16e6.txt.gz` in the first of `folders` that has one (a user's copy
    /// wins), else the copy bundled with the Tokenizers target (the file open_clip's wheel ships, MIT).
    static func openCLIPVocabulary(in folders: [URL]) throws -> URL {
        let name = CLIPTokenizer.openCLIPVocabularyFileName
        for folder in folders {
            let url = folder.appendingPathComponent(name)
            if exists(url) { return url }
        }
        if let bundled = CLIPTokenizer.bundledOpenCLIPVocabulary { return bundled }
        throw RewardError.missingFile(
            path: (folders.first ?? URL(fileURLWithPath: ".")).appendingPathComponent(name).path,
            expected: "open_clip's BPE vocabulary: the copy bundled with dancegrpo (DanceGRPO_Tokenizers.resources "
                + "next to the executable) is missing too; it ships in the open_clip_torch wheel as open_clip/\(name)")
    }

    /// A transformers CLIPModel folder, loaded strictly.
    static func transformersCLIP(folder: URL, dtype: DType) throws -> CLIPModel {
        let config = folder.appendingPathComponent("config.json")
        guard exists(config) else {
            throw RewardError.missingFile(
                path: config.path, expected: "a transformers CLIPModel folder (config.json + model.safetensors)")
        }
        return try CLIPModel.load(from: folder, dtype: dtype)
    }
}
