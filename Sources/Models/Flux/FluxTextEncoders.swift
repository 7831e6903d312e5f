import Engine
import Foundation
import Tokenizers

/// FLUX's two text encoders and their tokenizers: CLIP-L gives the pooled vector, T5 the token states
/// (diffusers `FluxPipeline.encode_prompt`: both padded to their max length, neither given an attention mask).
public final class FluxTextEncoders {
    public let tokenizer: CLIPTokenizer
    public let textEncoder: CLIPTextModel
    public let tokenizer2: T5Tokenizer
    public let textEncoder2: T5EncoderModel

    public init(
        tokenizer: CLIPTokenizer, textEncoder: CLIPTextModel, tokenizer2: T5Tokenizer, textEncoder2: T5EncoderModel
    ) {
        self.tokenizer = tokenizer
        self.textEncoder = textEncoder
        self.tokenizer2 = tokenizer2
        self.textEncoder2 = textEncoder2
    }

    /// The CLIP prompt length of FLUX's pipeline.
    public static let clipSequenceLength = 77

    /// Reads `tokenizer/`, `text_encoder/`, `tokenizer_2/` and `text_encoder_2/` of a FLUX folder, after checking
    /// that each tokenizer's ids and length fit its encoder.
    public static func load(from folder: URL, dtype: DType? = nil) throws -> FluxTextEncoders {
        let clipFolder = folder.appendingPathComponent("tokenizer")
        let clipEncoderFolder = folder.appendingPathComponent("text_encoder")
        let t5Folder = folder.appendingPathComponent("tokenizer_2")
        let t5EncoderFolder = folder.appendingPathComponent("text_encoder_2")
        let tokenizer = try CLIPTokenizer(directory: clipFolder)
        let clipConfig = try CLIPTextConfig.load(clipEncoderFolder)
        try TokenizerFit.check(
            tokenizer, fits: clipConfig, sequenceLength: max(clipSequenceLength, tokenizer.defaultMaxLength),
            tokenizer: clipFolder.path, model: clipEncoderFolder.appendingPathComponent("config.json").path)
        let tokenizer2 = try T5Tokenizer(directory: t5Folder)
        // T5's positions are relative: any length has them, only the ids must fit.
        try TokenizerFit.check(
            ids: tokenizer2.tokenIDRange, vocabularySize: try T5Config.load(t5EncoderFolder).vocabSize,
            tokenizer: t5Folder.path, model: t5EncoderFolder.appendingPathComponent("config.json").path)
        return FluxTextEncoders(
            tokenizer: tokenizer, textEncoder: try CLIPTextModel.load(from: clipEncoderFolder, dtype: dtype),
            tokenizer2: tokenizer2, textEncoder2: try T5EncoderModel.load(from: t5EncoderFolder, dtype: dtype))
    }

    /// Token ids as the pipeline makes them: CLIP padded/truncated to 77, T5 to `maxSequenceLength`.
    public func tokenize(_ prompts: [String], maxSequenceLength: Int = 512) -> (clip: Tensor, t5: Tensor) {
        (
            TokenIDTensor.make(tokenizer(prompts, maxLength: Self.clipSequenceLength).ids),
            TokenIDTensor.make(tokenizer2(prompts, maxLength: maxSequenceLength).ids)
        )
    }

    /// T5 states `[B, maxSequenceLength, D]`, CLIP pooled `[B, D]` and zero text ids, in float32.
    public func encode(_ prompts: [String], maxSequenceLength: Int = 512) -> FluxPromptEmbeddings {
        let ids = tokenize(prompts, maxSequenceLength: maxSequenceLength)
        let pooled = textEncoder(ids.clip).pooled.asType(.float32)
        let states = textEncoder2(ids.t5).asType(.float32)
        return FluxPromptEmbeddings(
            promptEmbeds: states, pooledPromptEmbeds: pooled, textIds: FluxLatents.textIds(length: maxSequenceLength))
    }
}
