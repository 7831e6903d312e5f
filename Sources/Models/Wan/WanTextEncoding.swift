import Engine
import Foundation
import Tokenizers

/// Wan's text side: the UMT5 tokenizer and encoder of a diffusers Wan folder (`tokenizer/`, `text_encoder/`) and the
/// prompt handling of `WanPipeline._get_t5_prompt_embeds`: each prompt cleaned (`prompt_clean`), tokenized with
/// `</s>` and padded/truncated to `maxSequenceLength` (512) with its attention mask, encoded with that mask, and the
/// states past each prompt's length set to zero (diffusers cuts them off and pads back with zeros). Negative prompts
/// (classifier-free guidance; diffusers' default is "") go through the same path.
/// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/pipelines/wan/pipeline_wan.py
public final class WanTextEncoder {
    public let tokenizer: T5Tokenizer
    public let textEncoder: T5EncoderModel

    /// `WanPipeline.__call__`'s `max_sequence_length`.
    public static let maxSequenceLength = 512

    public init(tokenizer: T5Tokenizer, textEncoder: T5EncoderModel) {
        self.tokenizer = tokenizer
        self.textEncoder = textEncoder
    }

    /// Reads `tokenizer/` (tokenizer.json or spiece.model) and `text_encoder/` (UMT5, sharded or not) of a Wan folder,
    /// after checking that the tokenizer's ids fit the encoder's table.
    public static func load(from folder: URL, dtype: DType? = nil) throws -> WanTextEncoder {
        let tokenizerFolder = folder.appendingPathComponent("tokenizer")
        let encoderFolder = folder.appendingPathComponent("text_encoder")
        let tokenizer = try T5Tokenizer(directory: tokenizerFolder)
        // Relative positions: any length fits, only the ids must.
        try TokenizerFit.check(
            ids: tokenizer.tokenIDRange, vocabularySize: try T5Config.load(encoderFolder).vocabSize,
            tokenizer: tokenizerFolder.path, model: encoderFolder.appendingPathComponent("config.json").path)
        return WanTextEncoder(
            tokenizer: tokenizer, textEncoder: try T5EncoderModel.load(from: encoderFolder, dtype: dtype))
    }

    /// The model's input: ids `[B, L]` and attention mask `[B, L]` (int32), and each prompt's token count.
    public func tokenize(_ prompts: [String], maxSequenceLength: Int = maxSequenceLength) -> WanTokenizedPrompts {
        let batch = tokenizer(prompts.map(PromptCleaning.diffusers), maxLength: maxSequenceLength)
        return WanTokenizedPrompts(
            ids: TokenIDTensor.make(batch.ids), attentionMask: TokenIDTensor.make(batch.attentionMask),
            lengths: batch.attentionMask.map { $0.reduce(0, +) })
    }

    /// Prompt embeddings `[B, maxSequenceLength, d_model]` in float32, zero past each prompt's tokens.
    public func encode(_ prompts: [String], maxSequenceLength: Int = maxSequenceLength) -> Tensor {
        let inputs = tokenize(prompts, maxSequenceLength: maxSequenceLength)
        let states = textEncoder(inputs.ids, attentionMask: inputs.attentionMask).asType(.float32)
        return Self.zeroingPastLengths(states, lengths: inputs.lengths)
    }

    /// `WanPipeline.encode_prompt` with classifier-free guidance: the prompts' embeddings and the negative prompt's,
    /// one row per prompt (diffusers encodes "" when there is no negative prompt).
    public func encode(
        _ prompts: [String], negativePrompt: String?, maxSequenceLength: Int = maxSequenceLength
    ) -> (prompt: Tensor, negative: Tensor) {
        let negatives = Array(repeating: negativePrompt ?? "", count: prompts.count)
        return (
            encode(prompts, maxSequenceLength: maxSequenceLength),
            encode(negatives, maxSequenceLength: maxSequenceLength)
        )
    }

    /// `states [B, L, D]` with rows `b` zero from position `lengths[b]` on (diffusers' `u[:v]` then zero padding;
    /// the tokenizer pads on the right, so a prompt's tokens are its first `lengths[b]` positions).
    public static func zeroingPastLengths(_ states: Tensor, lengths: [Int]) -> Tensor {
        let (batch, length) = (states.dim(0), states.dim(1))
        precondition(lengths.count == batch, "WanTextEncoder: \(lengths.count) lengths for a batch of \(batch)")
        var keep = [Float](repeating: 0, count: batch * length)
        for (row, count) in lengths.enumerated() {
            for position in 0..<min(count, length) { keep[row * length + position] = 1 }
        }
        return states * Tensor(keep, shape: [batch, length, 1]).asType(states.dtype)
    }
}

/// Token ids and attention mask as `WanPipeline` passes them to its text encoder.
public struct WanTokenizedPrompts {
    /// `[B, L]` int32.
    public let ids: Tensor
    /// `[B, L]` int32, 1 on the prompt's tokens (`</s>` included), 0 on padding.
    public let attentionMask: Tensor
    /// Tokens per prompt (the mask's row sums).
    public let lengths: [Int]
}
