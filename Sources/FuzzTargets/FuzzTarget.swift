import Checkpoints
import Foundation
import Imaging
import Models
import Tokenizers

// The parsers of untrusted files, each as a function of one input's bytes, for libFuzzer (`dancegrpo-fuzz`) and for
// the regression tests that replay committed inputs without the sanitizer build. A parser may throw on any input; it
// must never trap, crash, hang or read out of bounds. Parsers that take a path get the bytes as a file in a scratch
// folder of their own.

/// One fuzzed parser.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// A safetensors file, verified tensor by tensor (header, layout, bytes).
    case safetensors
    /// A `model.safetensors.index.json` beside two valid shards.
    case safetensorsIndex = "safetensors-index"
    /// A torch.save file (zip or legacy format, with the restricted unpickler), verified tensor by tensor.
    case torch
    /// CLIP's `vocab.json` and `merges.txt`: the input's bytes up to the first NUL byte, and the rest.
    case clipBPE = "clip-bpe"
    /// A transformers `tokenizer.json` with a Unigram model (T5).
    case tokenizerJSON = "tokenizer-json"
    /// A SentencePiece `spiece.model`.
    case sentencePiece = "spiece"
    /// A model `config.json`, read as each model family's config.
    case config
    case png
    case jpeg
    /// The embedding cache's `videos2caption.json`, beside one valid entry's files.
    case embeddingCache = "embedding-cache"

    /// Runs the parser on `bytes`; its errors are the expected outcome for most inputs and are returned, not thrown.
    @discardableResult
    public func run(_ bytes: [UInt8]) -> Error? {
        do {
            try body(bytes)
            return nil
        } catch {
            // Building the message is part of the path a user sees (escaping included).
            _ = "\(error)"
            return error
        }
    }

    private func body(_ bytes: [UInt8]) throws {
        switch self {
        case .safetensors:
            let file = try FuzzScratch.shared.write(bytes, as: "input.safetensors")
            _ = try CheckpointVerifier.verify(SafeTensorsCheckpoint(file: file))
        case .safetensorsIndex:
            let index = try FuzzScratch.shared.write(bytes, as: "sharded/model.safetensors.index.json")
            _ = try CheckpointVerifier.verify(path: index.deletingLastPathComponent())
        case .torch:
            let file = try FuzzScratch.shared.write(bytes, as: "input.pt")
            _ = try CheckpointVerifier.verify(TorchCheckpointFile(path: file))
        case .clipBPE:
            let split = bytes.firstIndex(of: 0) ?? bytes.count
            let vocabulary = try FuzzScratch.shared.write(Array(bytes[..<split]), as: "clip/vocab.json")
            let merges = try FuzzScratch.shared.write(
                Array(bytes[min(split + 1, bytes.count)...]), as: "clip/merges.txt")
            let tokenizer = try CLIPTokenizer(vocabularyFile: vocabulary, mergesFile: merges)
            FuzzTarget.exercise(tokenizer)
        case .tokenizerJSON:
            let file = try FuzzScratch.shared.write(bytes, as: "t5/tokenizer.json")
            FuzzTarget.exercise(try T5Tokenizer(tokenizerJSON: file))
        case .sentencePiece:
            let file = try FuzzScratch.shared.write(bytes, as: "t5/spiece.model")
            FuzzTarget.exercise(try T5Tokenizer(sentencePieceModel: file))
            FuzzTarget.exercise(try T5Tokenizer(sentencePieceModel: file, pipeline: .huggingFace))
        case .config:
            let file = try FuzzScratch.shared.write(bytes, as: "config/config.json")
            // The family the file names (diffusers' `_class_name`, transformers' `model_type`) reads it; a file that
            // names none goes through every family's reader. The input is refused when a reader that read it refuses.
            let object = try ConfigFile.object(from: file)
            let declared = (object["_class_name"] as? String) ?? (object["model_type"] as? String)
            let readers: [String: (URL) throws -> Any] = [
                "FluxTransformer2DModel": FluxConfig.load, "clip_text_model": CLIPTextConfig.load,
                "t5": T5Config.load, "AutoencoderKL": AutoencoderKLConfig.load,
                "UNet2DConditionModel": UNet2DConditionConfig.load
            ]
            let chosen = declared.flatMap { readers[$0] }.map { [$0] } ?? readers.keys.sorted().map { readers[$0]! }
            var failures: [Error] = []
            for read in chosen {
                do { _ = try read(file) } catch { failures.append(error) }
            }
            if let first = failures.first { throw first }
        case .png:
            _ = try PNGDecoder.decode(bytes).rgbImage()
        case .jpeg:
            _ = try JPEGDecoder.decode(bytes)
        case .embeddingCache:
            let folder = try FuzzScratch.shared.embeddingCache()
            try FuzzScratch.shared.write(bytes, to: folder.appendingPathComponent(FluxEmbeddingCache.manifestName))
            let cache = FluxEmbeddingCache(folder: folder)
            let entries = try cache.readManifest()
            _ = try cache.load(Array(entries.prefix(2)))
        }
    }

    /// Tokenizes a few texts that reach the normalisers, the pre-tokenizers, merges and unknown pieces.
    private static func exercise(_ tokenizer: some TextTokenizer) {
        for text in ["a photo of a cat", "", "  Ünïcödé\u{1F600} <|endoftext|> </s> don't 123\n\t"] {
            _ = tokenizer.encode(text)
        }
    }
}
