import Engine
import Foundation
import Tokenizers

/// HunyuanVideo's text side: the Llama 3 tokenizer and `LlamaModel` of a diffusers HunyuanVideo folder (`tokenizer/`,
/// `text_encoder/`) with CLIP-L (`tokenizer_2/`, `text_encoder_2/`), and `HunyuanVideoPipeline.encode_prompt`: each
/// prompt is put in the template, tokenized padded to `maxSequenceLength + cropStart` tokens (truncated there), encoded
/// with its attention mask, and `hidden_states[-(skip + 1)]` is taken (the third from last by default); the first
/// `cropStart` positions (the template's system part) are cut from states and mask alike. CLIP gives the pooled vector
/// of the prompt padded to 77 tokens, run without a mask.
/// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/pipelines/hunyuan_video/pipeline_hunyuan_video.py#L199-L338
public final class HunyuanVideoTextEncoding {
    public let tokenizer: Llama3Tokenizer
    public let textEncoder: LlamaModel
    public let tokenizer2: CLIPTokenizer
    public let textEncoder2: CLIPTextModel
    public let template: String
    public let cropStart: Int
    public let numHiddenLayersToSkip: Int

    /// `DEFAULT_PROMPT_TEMPLATE["template"]`; the prompt goes where "{}" is.
    public static let promptTemplate =
        "<|start_header_id|>system<|end_header_id|>\n\nDescribe the video by detailing the following aspects: "
        + "1. The main content and theme of the video."
        + "2. The color, shape, size, texture, quantity, text, and spatial relationships of the objects."
        + "3. Actions, events, behaviors temporal relationships, physical movement changes of the objects."
        + "4. background environment, light, style and atmosphere."
        + "5. camera angles, movements, and transitions used in the video:<|eot_id|>"
        + "<|start_header_id|>user<|end_header_id|>\n\n{}<|eot_id|>"
    /// `DEFAULT_PROMPT_TEMPLATE["crop_start"]`: the template's tokens before the prompt, <|begin_of_text|> included,
    /// with HunyuanVideo's tokenizer.
    public static let promptTemplateCropStart = 95
    /// `encode_prompt`'s `max_sequence_length`.
    public static let defaultMaxSequenceLength = 256
    /// `_get_clip_prompt_embeds`' length.
    public static let clipSequenceLength = 77

    public init(
        tokenizer: Llama3Tokenizer, textEncoder: LlamaModel, tokenizer2: CLIPTokenizer, textEncoder2: CLIPTextModel,
        template: String = promptTemplate, cropStart: Int = promptTemplateCropStart, numHiddenLayersToSkip: Int = 2
    ) {
        precondition(cropStart >= 0, "HunyuanVideoTextEncoding: crop start \(cropStart)")
        precondition(
            numHiddenLayersToSkip >= 0 && numHiddenLayersToSkip <= textEncoder.layers.count,
            "HunyuanVideoTextEncoding: cannot skip \(numHiddenLayersToSkip) of \(textEncoder.layers.count) layers")
        self.tokenizer = tokenizer
        self.textEncoder = textEncoder
        self.tokenizer2 = tokenizer2
        self.textEncoder2 = textEncoder2
        self.template = template
        self.cropStart = cropStart
        self.numHiddenLayersToSkip = numHiddenLayersToSkip
    }

    /// Reads `tokenizer/` (tokenizer.json), `text_encoder/`, `tokenizer_2/` and `text_encoder_2/` of a HunyuanVideo
    /// folder, after checking that each tokenizer's ids fit its encoder (and CLIP's 77 tokens its positions).
    public static func load(
        from folder: URL, dtype: DType? = nil, template: String = promptTemplate,
        cropStart: Int = promptTemplateCropStart
    ) throws -> HunyuanVideoTextEncoding {
        let llamaFolder = folder.appendingPathComponent("tokenizer")
        let llamaEncoderFolder = folder.appendingPathComponent("text_encoder")
        let clipFolder = folder.appendingPathComponent("tokenizer_2")
        let clipEncoderFolder = folder.appendingPathComponent("text_encoder_2")
        let tokenizer = try Llama3Tokenizer(directory: llamaFolder)
        // Rotary positions: any length fits, only the ids must.
        try TokenizerFit.check(
            ids: tokenizer.tokenIDRange, vocabularySize: try LlamaConfig.load(llamaEncoderFolder).vocabSize,
            tokenizer: llamaFolder.path, model: llamaEncoderFolder.appendingPathComponent("config.json").path)
        let tokenizer2 = try CLIPTokenizer(directory: clipFolder)
        try TokenizerFit.check(
            tokenizer2, fits: try CLIPTextConfig.load(clipEncoderFolder), sequenceLength: clipSequenceLength,
            tokenizer: clipFolder.path, model: clipEncoderFolder.appendingPathComponent("config.json").path)
        return HunyuanVideoTextEncoding(
            tokenizer: tokenizer, textEncoder: try LlamaModel.load(from: llamaEncoderFolder, dtype: dtype),
            tokenizer2: tokenizer2, textEncoder2: try CLIPTextModel.load(from: clipEncoderFolder, dtype: dtype),
            template: template, cropStart: cropStart)
    }

    /// The number of tokens `tokenizer` gives the part of `template` before "{}" (the prefix tokens included): what
    /// `crop_start` is for a template and tokenizer whose prompt starts a new piece (HunyuanVideo's: 95).
    public static func templatePrefixLength(_ template: String, tokenizer: Llama3Tokenizer) -> Int {
        let prefix = template.range(of: "{}").map { String(template[..<$0.lowerBound]) } ?? template
        return tokenizer.prefixTokenIDs.count + tokenizer.tokenize(prefix).count
    }

    /// The templated prompts tokenized as `_get_llama_prompt_embeds` does: ids and attention mask
    /// `[B, maxSequenceLength + cropStart]` (int32).
    public func tokenize(_ prompts: [String], maxSequenceLength: Int = defaultMaxSequenceLength) -> (
        ids: Tensor, attentionMask: Tensor
    ) {
        let texts = prompts.map { template.replacingOccurrences(of: "{}", with: $0) }
        let batch = tokenizer.batch(texts, maxLength: maxSequenceLength + cropStart, padding: .maxLength)
        return (TokenIDTensor.make(batch.ids), TokenIDTensor.make(batch.attentionMask))
    }

    /// `_get_llama_prompt_embeds`: `(prompt_embeds [B, maxSequenceLength, hidden] float32, prompt_attention_mask
    /// [B, maxSequenceLength] int32)`.
    public func llamaPromptEmbeds(_ prompts: [String], maxSequenceLength: Int = defaultMaxSequenceLength) -> (
        promptEmbeds: Tensor, attentionMask: Tensor
    ) {
        precondition(maxSequenceLength > 0, "HunyuanVideoTextEncoding: maxSequenceLength \(maxSequenceLength)")
        let inputs = tokenize(prompts, maxSequenceLength: maxSequenceLength)
        let states = textEncoder.hiddenState(
            inputs.ids, attentionMask: inputs.attentionMask, index: -(numHiddenLayersToSkip + 1)
        ).asType(.float32)
        let length = states.dim(1)
        guard cropStart > 0 else { return (states, inputs.attentionMask) }
        return (states[.all, cropStart..<length], inputs.attentionMask[.all, cropStart..<length])
    }

    /// `_get_clip_prompt_embeds`: CLIP's pooled output `[B, D]` (float32) of the prompts padded to 77 tokens.
    public func clipPooledEmbeds(_ prompts: [String]) -> Tensor {
        let ids = TokenIDTensor.make(tokenizer2(prompts, maxLength: Self.clipSequenceLength).ids)
        return textEncoder2(ids).pooled.asType(.float32)
    }

    /// `encode_prompt` (one video per prompt, `prompt_2` the same prompts): `prompt_embeds [B, L, hidden]`,
    /// `prompt_attention_mask [B, L]` (L = `maxSequenceLength`) and `pooled_prompt_embeds [B, D]`.
    public func encodePrompt(_ prompts: [String], maxSequenceLength: Int = defaultMaxSequenceLength) -> (
        promptEmbeds: Tensor, attentionMask: Tensor, pooledPromptEmbeds: Tensor
    ) {
        let (embeds, mask) = llamaPromptEmbeds(prompts, maxSequenceLength: maxSequenceLength)
        return (embeds, mask, clipPooledEmbeds(prompts))
    }
}
