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
            // One file, every family's reader; the input is refused when no family accepts it.
            var failures: [Error] = []
            func attempt(_ load: (URL) throws -> Any) {
                do { _ = try load(file) } catch { failures.append(error) }
            }
            attempt(ConfigFile.object)
            attempt(FluxConfig.load)
            attempt(CLIPTextConfig.load)
            attempt(T5Config.load)
            attempt(AutoencoderKLConfig.load)
            attempt(UNet2DConditionConfig.load)
            if failures.count == 6 { throw failures[0] }
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
