import Checkpoints
import Engine
import Foundation
import Tokenizers

/// Qwen-Image-Edit's prompt encoding (`QwenImageEditPipeline._get_qwen_prompt_embeds`): the prompt goes into the Edit
/// template after the condition image's vision placeholders; the Qwen2-VL processor expands `<|image_pad|>` to one
/// token per merged vision token; the language model runs on the token embeddings with the vision tower's merged
/// tokens in place of those tokens, at `get_rope_index`'s 3-axis positions (``Qwen2_5_VLRopeIndex``); of each row's
/// real tokens the first `dropIndex` (64, the system part) are dropped and the rows padded as for text to image
/// (``QwenImageTextEncoding/droppingPrefix(_:lengths:dropIndex:)``). The tokenizer and language model are the text
/// encoding's; the vision tower is `text_encoder/`'s `visual.*`, the image processor `processor/`'s.
/// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/pipelines/qwenimage/pipeline_qwenimage_edit.py
public final class QwenImageEditTextEncoding {
    public let text: QwenImageTextEncoding
    public let visual: Qwen2VLVisionTransformer
    public let imageProcessor: Qwen2VLImageProcessor
    /// The language model's `image_token_id` (the id of `<|image_pad|>`).
    public let imageTokenID: Int
    public let template: String
    public let dropIndex: Int

    /// `QwenImageEditPipeline.prompt_template_encode`; the prompt goes where "{}" is.
    public static let promptTemplate =
        "<|im_start|>system\nDescribe the key features of the input image (color, shape, size, texture, objects, "
        + "background), then explain how the user's text instruction should alter or modify the image. Generate a new "
        + "image that meets the user's requirements while maintaining consistency with the original input where "
        + "appropriate.<|im_end|>\n<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>{}<|im_end|>\n"
        + "<|im_start|>assistant\n"
    /// `prompt_template_encode_start_idx`.
    public static let promptTemplateStartIndex = 64
    /// The processor's image token, expanded to one per merged vision token.
    public static let imagePlaceholder = "<|image_pad|>"

    public init(
        text: QwenImageTextEncoding, visual: Qwen2VLVisionTransformer, imageProcessor: Qwen2VLImageProcessor,
        imageTokenID: Int, template: String = promptTemplate, dropIndex: Int = promptTemplateStartIndex
    ) {
        self.text = text
        self.visual = visual
        self.imageProcessor = imageProcessor
        self.imageTokenID = imageTokenID
        self.template = template
        self.dropIndex = dropIndex
    }

    /// The top-level token ids of a Qwen2.5-VL `config.json` (transformers' defaults when absent).
    struct TokenIDs: Decodable {
        var imageTokenID = 151_655
        enum CodingKeys: String, CodingKey { case imageTokenID = "image_token_id" }
        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            imageTokenID = try c.decodeIfPresent(Int.self, forKey: .imageTokenID) ?? imageTokenID
        }
    }

    /// Adds the vision side of a Qwen-Image-Edit folder to its text encoding: the vision tower of `text_encoder/`,
    /// `processor/` (either transformers layout), after checking that the processor's patches are the tower's and that
    /// the tokenizer spells `<|image_pad|>` as the config's `image_token_id`.
    public static func load(from folder: URL, text: QwenImageTextEncoding, dtype: DType? = nil) throws
        -> QwenImageEditTextEncoding
    {
        let encoderFolder = folder.appendingPathComponent("text_encoder")
        guard let processorFile = Qwen2VLImageProcessor.file(in: folder.appendingPathComponent("processor")) else {
            throw ModelFolderError.missingComponents(
                file: folder.path,
                reason:
                    """
                    not a diffusers Qwen-Image-Edit folder: missing processor/preprocessor_config.json (or \
                    processor_config.json)
                    """)
        }
        let processor = try Qwen2VLImageProcessor.load(processorFile)
        let visual = try Qwen2VLVisionTransformer.load(from: encoderFolder, dtype: dtype)
        let v = visual.config
        guard
            processor.patchSize == v.patchSize && processor.mergeSize == v.spatialMergeSize
                && processor.temporalPatchSize == v.temporalPatchSize
        else {
            throw ModelFolderError.missingComponents(
                file: processorFile.path,
                reason:
                    """
                    patch_size \(processor.patchSize), merge_size \(processor.mergeSize), temporal_patch_size \
                    \(processor.temporalPatchSize) do not match the vision tower's \(v.patchSize), \
                    \(v.spatialMergeSize), \(v.temporalPatchSize)
                    """)
        }
        let configFile = encoderFolder.appendingPathComponent("config.json")
        let ids = try ConfigFile.decode(TokenIDs.self, from: configFile)
        let spelled = text.tokenizer.tokenize(imagePlaceholder)
        guard spelled == [ids.imageTokenID] else {
            throw ModelFolderError.missingComponents(
                file: configFile.path,
                reason:
                    "image_token_id \(ids.imageTokenID), but the tokenizer reads \(imagePlaceholder) as \(spelled)")
        }
        return QwenImageEditTextEncoding(
            text: text, visual: visual, imageProcessor: processor, imageTokenID: ids.imageTokenID)
    }

    /// The vision tower's merged tokens `[N, hidden]` for an 8-bit RGB image (row-major `[height, width, 3]`, the
    /// condition image as the pipeline resized it), after the processor's own resize, and the patch grid.
    public func imageTokens(rgb: [UInt8], height: Int, width: Int) throws -> (
        tokens: Tensor, grid: (t: Int, h: Int, w: Int)
    ) {
        let processed = try imageProcessor.preprocess(rgb: rgb, height: height, width: width)
        return (visual(processed.pixelValues, grids: [processed.grid]).merged, processed.grid)
    }

    /// The templated prompts with the placeholder expanded to `imageTokenCount` image tokens, tokenized as the
    /// processor does (`padding=True`: to the longest row, on the right; no truncation).
    public func tokenize(_ prompts: [String], imageTokenCount: Int) -> TokenizedBatch {
        let expanded = String(repeating: Self.imagePlaceholder, count: imageTokenCount)
        let texts = prompts.map {
            template.replacingOccurrences(of: "{}", with: $0)
                .replacingOccurrences(of: Self.imagePlaceholder, with: expanded)
        }
        return text.tokenizer(texts, padding: .longest, truncation: false)
    }

    /// `encode_prompt` with the condition image (8-bit RGB `[height, width, 3]`): `(prompt_embeds [B, L', hidden]
    /// float32, mask [B, L'] int32, nil when every row is full as diffusers leaves it)`.
    public func encodePrompt(_ prompts: [String], rgb: [UInt8], height: Int, width: Int) throws -> (
        promptEmbeds: Tensor, mask: Tensor?
    ) {
        let image = try imageTokens(rgb: rgb, height: height, width: width)
        let batch = tokenize(prompts, imageTokenCount: image.tokens.dim(0))
        let model = text.textEncoder
        let ids = TokenIDTensor.make(batch.ids)
        let embeds = model.embedTokens(ids)
        let (rows, length, hidden) = (embeds.dim(0), embeds.dim(1), embeds.dim(2))
        // transformers' masked_scatter: each row's image tokens, in order, take the merged tokens (the same image in
        // every row), gathered from [token embeddings; merged tokens].
        var gather = [Int32]()
        gather.reserveCapacity(rows * length)
        for (row, rowIDs) in batch.ids.enumerated() {
            var k = 0
            for (position, id) in rowIDs.enumerated() {
                if id == imageTokenID {
                    precondition(k < image.tokens.dim(0), "QwenImageEditTextEncoding: more image tokens than features")
                    gather.append(Int32(rows * length + k))
                    k += 1
                } else {
                    gather.append(Int32(row * length + position))
                }
            }
        }
        let table = concatenated([embeds.reshaped([rows * length, hidden]), image.tokens.asType(embeds.dtype)], axis: 0)
        let inputs = table.take(Tensor(gather, shape: [rows * length]), axis: 0).reshaped([rows, length, hidden])
        let positions = Qwen2_5_VLRopeIndex.positionIDs(
            ids: batch.ids, attentionMask: batch.attentionMask, imageTokenID: imageTokenID,
            grids: Array(repeating: image.grid, count: rows), spatialMergeSize: visual.config.spatialMergeSize)
        let states = model(
            inputsEmbeds: inputs, attentionMask: TokenIDTensor.make(batch.attentionMask), positionIDs: positions
        ).asType(.float32)
        let (embedsOut, mask) = QwenImageTextEncoding.droppingPrefix(
            states, lengths: batch.attentionMask.map { $0.reduce(0, +) }, dropIndex: dropIndex)
        let full = mask.toArray(Int32.self).allSatisfy { $0 != 0 }
        return (embedsOut, full ? nil : mask)
    }
}
