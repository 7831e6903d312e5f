import Checkpoints
import Engine
import Foundation
@testable import Models
import TestSupport
import Tokenizers
import XCTest

/// `HunyuanVideoPipeline.encode_prompt` (tools/goldens/hunyuan_video_text.py) on the miniature folder: the template,
/// padding to max_sequence_length + crop_start, `hidden_states[-3]`, the crop, and CLIP's pooled output.
final class HunyuanVideoTextEncodingTests: XCTestCase {
    private struct Golden {
        let tensors: [String: Tensor]
        let template: String
        let cropStart: Int
        let maxSequenceLength: Int
        let prompts: [String]
    }

    private func golden() throws -> Golden {
        let file = try SafeTensorsFile(url: Fixture.url("hunyuan_video_text.safetensors"))
        let m = file.metadata
        return Golden(
            tensors: try file.tensors(), template: m["template"]!, cropStart: Int(m["crop_start"]!)!,
            maxSequenceLength: Int(m["max_sequence_length"]!)!,
            prompts: try JSONDecoder().decode([String].self, from: Data(m["pipe_prompts"]!.utf8)))
    }

    private func encoding(_ g: Golden) throws -> HunyuanVideoTextEncoding {
        try HunyuanVideoTextEncoding.load(
            from: Fixture.url("hunyuan_video_text"), template: g.template, cropStart: g.cropStart)
    }

    private func relativeError(_ actual: Tensor, _ expected: Tensor) -> (error: Float, scale: Float) {
        (maxAbsDifference(actual, expected), expected.abs().max().item(Float.self))
    }

    func testEncodePromptMatchesPipeline() throws {
        let g = try golden()
        XCTAssertEqual(g.template, HunyuanVideoTextEncoding.promptTemplate)
        let encoding = try encoding(g)
        // The tiny tokenizer's crop_start, as the template's prefix tokenizes.
        XCTAssertEqual(
            HunyuanVideoTextEncoding.templatePrefixLength(g.template, tokenizer: encoding.tokenizer), g.cropStart)

        let inputs = encoding.tokenize(g.prompts, maxSequenceLength: g.maxSequenceLength)
        XCTAssertEqual(inputs.ids.toArray(Int32.self), g.tensors["pipe.input_ids"]!.toArray(Int32.self))
        XCTAssertEqual(inputs.attentionMask.toArray(Int32.self), g.tensors["pipe.attention_mask"]!.toArray(Int32.self))

        let out = encoding.encodePrompt(g.prompts, maxSequenceLength: g.maxSequenceLength)
        let expected = g.tensors["pipe.prompt_embeds"]!
        XCTAssertEqual(out.promptEmbeds.shape, expected.shape)
        let embeds = relativeError(out.promptEmbeds, expected)
        XCTAssertLessThanOrEqual(embeds.error, 1e-4 * max(embeds.scale, 1))
        let mask = out.attentionMask.toArray(Int32.self)
        XCTAssertEqual(mask, g.tensors["pipe.prompt_attention_mask"]!.toArray(Int32.self))
        XCTAssert(mask.contains(0), "a padded prompt")
        let pooledExpected = g.tensors["pipe.pooled_prompt_embeds"]!
        XCTAssertEqual(out.pooledPromptEmbeds.shape, pooledExpected.shape)
        let pooled = relativeError(out.pooledPromptEmbeds, pooledExpected)
        XCTAssertLessThanOrEqual(pooled.error, 1e-4 * max(pooled.scale, 1))
        print(
            "HunyuanVideo prompt embeds \(expected.shape): max abs error \(embeds.error), max |reference| "
                + "\(embeds.scale); pooled \(pooledExpected.shape): \(pooled.error), \(pooled.scale)")
    }

    /// The layer choice and the crop matter: the last or second-to-last hidden state, or a crop one token off, give
    /// other embeddings.
    func testLayerAndCropMatter() throws {
        let g = try golden()
        let base = try encoding(g)
        let expected = g.tensors["pipe.prompt_embeds"]!
        for skip in [0, 1] {
            let other = HunyuanVideoTextEncoding(
                tokenizer: base.tokenizer, textEncoder: base.textEncoder, tokenizer2: base.tokenizer2,
                textEncoder2: base.textEncoder2, template: g.template, cropStart: g.cropStart,
                numHiddenLayersToSkip: skip)
            let embeds = other.llamaPromptEmbeds(g.prompts, maxSequenceLength: g.maxSequenceLength).promptEmbeds
            XCTAssertGreaterThan(relativeError(embeds, expected).error, 1e-2, "skip \(skip)")
        }
        let shifted = HunyuanVideoTextEncoding(
            tokenizer: base.tokenizer, textEncoder: base.textEncoder, tokenizer2: base.tokenizer2,
            textEncoder2: base.textEncoder2, template: g.template, cropStart: g.cropStart - 1)
        let embeds = shifted.llamaPromptEmbeds(g.prompts, maxSequenceLength: g.maxSequenceLength).promptEmbeds
        XCTAssertEqual(embeds.shape, expected.shape)
        XCTAssertGreaterThan(relativeError(embeds, expected).error, 1e-2)
    }

    /// The pipeline's defaults: 256 tokens after a crop of 95, and DEFAULT_PROMPT_TEMPLATE.
    func testDefaults() throws {
        let g = try golden()
        let base = try encoding(g)
        let encoding = HunyuanVideoTextEncoding(
            tokenizer: base.tokenizer, textEncoder: base.textEncoder, tokenizer2: base.tokenizer2,
            textEncoder2: base.textEncoder2)
        XCTAssertEqual(encoding.cropStart, 95)
        XCTAssertEqual(encoding.numHiddenLayersToSkip, 2)
        let out = encoding.encodePrompt(["a cat"])
        XCTAssertEqual(out.promptEmbeds.shape, [1, 256, 32])
        XCTAssertEqual(out.attentionMask.shape, [1, 256])
        XCTAssertEqual(out.pooledPromptEmbeds.shape, [1, 16])
    }

    /// A tokenizer whose ids pass the Llama embedding table is refused when loading.
    func testLoadRefusesTooSmallVocabulary() throws {
        let folder = try temporaryDirectory(self)
        let source = Fixture.url("hunyuan_video_text")
        for name in ["tokenizer", "text_encoder", "tokenizer_2", "text_encoder_2"] {
            try FileManager.default.copyItem(
                at: source.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
        let config = folder.appendingPathComponent("text_encoder/config.json")
        let text = try String(contentsOf: config, encoding: .utf8)
        let size = try LlamaConfig.load(config).vocabSize
        let smaller = text.replacingOccurrences(of: "\"vocab_size\": \(size)", with: "\"vocab_size\": \(size - 1)")
        XCTAssertNotEqual(smaller, text)
        try Data(smaller.utf8).write(to: config)
        XCTAssertThrowsError(try HunyuanVideoTextEncoding.load(from: folder)) { error in
            XCTAssert("\(error)".contains("expected ids below vocab_size"), "\(error)")
        }
    }
}
