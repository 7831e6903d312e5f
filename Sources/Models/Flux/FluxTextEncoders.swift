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

    public static func load(from folder: URL, dtype: DType? = nil) throws -> FluxTextEncoders {
        FluxTextEncoders(
            tokenizer: try CLIPTokenizer(directory: folder.appendingPathComponent("tokenizer")),
            textEncoder: try CLIPTextModel.load(from: folder.appendingPathComponent("text_encoder"), dtype: dtype),
            tokenizer2: try T5Tokenizer(directory: folder.appendingPathComponent("tokenizer_2")),
            textEncoder2: try T5EncoderModel.load(from: folder.appendingPathComponent("text_encoder_2"), dtype: dtype))
    }

    /// Token ids as the pipeline makes them: CLIP padded/truncated to 77, T5 to `maxSequenceLength`.
    public func tokenize(_ prompts: [String], maxSequenceLength: Int = 512) -> (clip: Tensor, t5: Tensor) {
        func tensor(_ batch: TokenizedBatch) -> Tensor {
            Tensor(batch.ids.flatMap { $0.map(Int32.init) }, shape: [batch.ids.count, batch.ids.first?.count ?? 0])
        }
        return (tensor(tokenizer(prompts, maxLength: 77)), tensor(tokenizer2(prompts, maxLength: maxSequenceLength)))
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
