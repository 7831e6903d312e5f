import Engine
import Foundation
import Tokenizers

/// Qwen-Image's text side: the Qwen2 tokenizer and Qwen2.5-VL language model of a diffusers QwenImage folder
/// (`tokenizer/`, `text_encoder/`) and `QwenImagePipeline._get_qwen_prompt_embeds`: each prompt is put in the chat
/// template, the batch tokenized padded to its longest row (truncated to `tokenizerMaxLength + dropIndex` tokens),
/// encoded with its attention mask, and of each row's real tokens the first `dropIndex` (the template's system part)
/// are dropped; the rows are then padded with zeros to the longest, with a mask of ones on the kept tokens.
/// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/pipelines/qwenimage/pipeline_qwenimage.py
public final class QwenImageTextEncoding {
    public let tokenizer: Qwen2Tokenizer
    public let textEncoder: Qwen2_5_VLTextModel
    public let template: String
    public let dropIndex: Int
    public let tokenizerMaxLength: Int

    /// `QwenImagePipeline.prompt_template_encode`; the prompt goes where "{}" is.
    public static let promptTemplate =
        "<|im_start|>system\nDescribe the image by detailing the color, shape, size, texture, quantity, text, spatial "
        + "relationships of the objects and background:<|im_end|>\n<|im_start|>user\n{}<|im_end|>\n"
        + "<|im_start|>assistant\n"
    /// `prompt_template_encode_start_idx`: the template's tokens before the prompt, with Qwen-Image's tokenizer.
    public static let promptTemplateStartIndex = 34
    /// `tokenizer_max_length`.
    public static let defaultTokenizerMaxLength = 1024

    public init(
        tokenizer: Qwen2Tokenizer, textEncoder: Qwen2_5_VLTextModel, template: String = promptTemplate,
        dropIndex: Int = promptTemplateStartIndex, tokenizerMaxLength: Int = defaultTokenizerMaxLength
    ) {
        self.tokenizer = tokenizer
        self.textEncoder = textEncoder
        self.template = template
        self.dropIndex = dropIndex
        self.tokenizerMaxLength = tokenizerMaxLength
    }

    /// Reads `tokenizer/` (tokenizer.json or vocab.json + merges.txt) and `text_encoder/` of a Qwen-Image folder,
    /// after checking that the tokenizer's ids fit the encoder's table.
    public static func load(from folder: URL, dtype: DType? = nil) throws -> QwenImageTextEncoding {
        let tokenizerFolder = folder.appendingPathComponent("tokenizer")
        let encoderFolder = folder.appendingPathComponent("text_encoder")
        let tokenizer = try Qwen2Tokenizer(directory: tokenizerFolder)
        // Rotary positions: any length fits, only the ids must.
        try TokenizerFit.check(
            ids: tokenizer.tokenIDRange, vocabularySize: try Qwen2_5_VLTextConfig.load(encoderFolder).vocabSize,
            tokenizer: tokenizerFolder.path, model: encoderFolder.appendingPathComponent("config.json").path)
        return QwenImageTextEncoding(
            tokenizer: tokenizer, textEncoder: try Qwen2_5_VLTextModel.load(from: encoderFolder, dtype: dtype))
    }

    /// The templated prompts tokenized as the pipeline does: ids and attention mask `[B, L]` (int32), L the longest
    /// row, and each row's token count.
    public func tokenize(_ prompts: [String]) -> (ids: Tensor, attentionMask: Tensor, lengths: [Int]) {
        let texts = prompts.map { template.replacingOccurrences(of: "{}", with: $0) }
        let batch = tokenizer(texts, maxLength: tokenizerMaxLength + dropIndex, padding: .longest)
        return (
            TokenIDTensor.make(batch.ids), TokenIDTensor.make(batch.attentionMask),
            batch.attentionMask.map { $0.reduce(0, +) }
        )
    }

    /// `(prompt_embeds [B, L', hidden] float32, prompt_embeds_mask [B, L'] int32)` with L' the longest prompt's
    /// token count after the template prefix.
    public func encode(_ prompts: [String]) -> (promptEmbeds: Tensor, mask: Tensor) {
        let inputs = tokenize(prompts)
        let states = textEncoder(inputs.ids, attentionMask: inputs.attentionMask).asType(.float32)
        return Self.droppingPrefix(states, lengths: inputs.lengths, dropIndex: dropIndex)
    }

    /// `QwenImagePipeline.encode_prompt` (one image per prompt): `encode` cut to `maxSequenceLength` tokens
    /// (the pipeline's default 1024), and the mask left out (nil) when every row fills the width, as diffusers does.
    public func encodePrompt(_ prompts: [String], maxSequenceLength: Int = defaultTokenizerMaxLength) -> (
        promptEmbeds: Tensor, mask: Tensor?
    ) {
        precondition(maxSequenceLength > 0, "QwenImageTextEncoding: maxSequenceLength \(maxSequenceLength)")
        var (embeds, mask) = encode(prompts)
        if embeds.dim(1) > maxSequenceLength {
            embeds = embeds[.all, 0..<maxSequenceLength]
            mask = mask[.all, 0..<maxSequenceLength]
        }
        let full = mask.toArray(Int32.self).allSatisfy { $0 != 0 }
        return (embeds, full ? nil : mask)
    }

    /// Each row's tokens `dropIndex ..< lengths[b]` (the tokenizer pads on the right), zero padded to the longest.
    public static func droppingPrefix(_ states: Tensor, lengths: [Int], dropIndex: Int) -> (
        promptEmbeds: Tensor, mask: Tensor
    ) {
        let (batch, length) = (states.dim(0), states.dim(1))
        precondition(lengths.count == batch, "QwenImageTextEncoding: \(lengths.count) lengths for a batch of \(batch)")
        let kept = lengths.map { max(0, min($0, length) - dropIndex) }
        let width = kept.max() ?? 0
        var mask = [Int32](repeating: 0, count: batch * width)
        for (row, count) in kept.enumerated() {
            for position in 0..<count { mask[row * width + position] = 1 }
        }
        let maskTensor = Tensor(mask, shape: [batch, width])
        guard width > 0 else { return (Tensor.zeros([batch, 0, states.dim(2)]), maskTensor) }
        let window = states[.all, dropIndex..<(dropIndex + width)]
        return (window * maskTensor.asType(window.dtype).expandedDims(axis: -1), maskTensor)
    }
}
