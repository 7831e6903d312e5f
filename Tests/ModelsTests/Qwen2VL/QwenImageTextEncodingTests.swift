import Checkpoints
import Engine
import Foundation
@testable import Models
import TestSupport
import Tokenizers
import XCTest

/// `QwenImagePipeline._get_qwen_prompt_embeds` (tools/goldens/qwen2vl_text.py) on the tiny model and tokenizer: the
/// template, the 34 dropped tokens, the split by mask and the zero padding.
final class QwenImageTextEncodingTests: XCTestCase {
    func testMatchesPipeline() throws {
        let g = try Qwen2_5_VLTextModelTests.golden()
        let tokenizer = try Qwen2Tokenizer(directory: Fixture.url("tokenizers/qwen2/json"))
        let encoding = QwenImageTextEncoding(tokenizer: tokenizer, textEncoder: try Qwen2_5_VLTextModelTests.loaded(g))
        XCTAssertEqual(encoding.template, g.metadata["template"])
        XCTAssertEqual(encoding.dropIndex, Int(g.metadata["drop_idx"]!))
        let prompts = try JSONDecoder().decode([String].self, from: Data(g.metadata["pipe_prompts"]!.utf8))

        let inputs = encoding.tokenize(prompts)
        XCTAssertEqual(inputs.ids.toArray(Int32.self), g["pipe.input_ids"].toArray(Int32.self))
        XCTAssertEqual(inputs.attentionMask.toArray(Int32.self), g["pipe.attention_mask"].toArray(Int32.self))

        let (embeds, mask) = encoding.encode(prompts)
        let expected = g["pipe.prompt_embeds"]
        XCTAssertEqual(embeds.shape, expected.shape)
        XCTAssertEqual(mask.toArray(Int32.self), g["pipe.prompt_embeds_mask"].toArray(Int32.self))
        let scale = expected.abs().max().item(Float.self)
        let error = maxAbsDifference(embeds, expected)
        XCTAssertLessThanOrEqual(error, 1e-4 * max(scale, 1))
        print("QwenImage prompt embeds: max abs error \(error), max |reference| \(scale), shape \(expected.shape)")
        // Padding is zero and the drop index matters.
        XCTAssert(mask.toArray(Int32.self).contains(0))
        let shifted = QwenImageTextEncoding.droppingPrefix(
            encoding.textEncoder(inputs.ids, attentionMask: inputs.attentionMask), lengths: inputs.lengths,
            dropIndex: 33)
        XCTAssertNotEqual(shifted.promptEmbeds.shape, expected.shape)
    }

    /// `encode_prompt`'s cut to max_sequence_length, with the mask dropped when it is all ones.
    func testEncodePromptCut() throws {
        let g = try Qwen2_5_VLTextModelTests.golden()
        let tokenizer = try Qwen2Tokenizer(directory: Fixture.url("tokenizers/qwen2/json"))
        let encoding = QwenImageTextEncoding(tokenizer: tokenizer, textEncoder: try Qwen2_5_VLTextModelTests.loaded(g))
        let prompts = try JSONDecoder().decode([String].self, from: Data(g.metadata["pipe_prompts"]!.utf8))
        let cut60 = encoding.encodePrompt(prompts, maxSequenceLength: 60)
        assertClose(cut60.promptEmbeds, g["pipe.max60.prompt_embeds"], tolerance: 1e-4, "60")
        XCTAssertEqual(cut60.mask?.toArray(Int32.self), g["pipe.max60.prompt_embeds_mask"].toArray(Int32.self))
        let cut50 = encoding.encodePrompt(prompts, maxSequenceLength: 50)
        assertClose(cut50.promptEmbeds, g["pipe.max50.prompt_embeds"], tolerance: 1e-4, "50")
        XCTAssertNil(cut50.mask)
        let whole = encoding.encodePrompt(prompts)
        assertClose(whole.promptEmbeds, g["pipe.prompt_embeds"], tolerance: 1e-4, "1024")
        XCTAssertNotNil(whole.mask)
    }

    /// A Qwen-Image folder: `tokenizer/` in the transformers 4 layout, `text_encoder/` with the transformers 4 config;
    /// a tokenizer whose ids pass the embedding table is refused.
    func testLoadsFolder() throws {
        let g = try Qwen2_5_VLTextModelTests.golden()
        let folder = try temporaryDirectory(self)
        let encoderFolder = folder.appendingPathComponent("text_encoder")
        try FileManager.default.createDirectory(at: encoderFolder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            at: Fixture.url("tokenizers/qwen2/legacy"), to: folder.appendingPathComponent("tokenizer"))
        try Data(g.metadata["config_v4"]!.utf8).write(to: encoderFolder.appendingPathComponent("config.json"))
        try SafeTensors.save(g.params, to: encoderFolder.appendingPathComponent("model.safetensors"))
        let prompts = try JSONDecoder().decode([String].self, from: Data(g.metadata["pipe_prompts"]!.utf8))
        let (embeds, _) = try QwenImageTextEncoding.load(from: folder).encode(prompts)
        assertClose(embeds, g["pipe.prompt_embeds"], tolerance: 1e-4, "from the folder")

        let smaller = g.metadata["config_v4"]!.replacingOccurrences(
            of: "\"vocab_size\": \(g.config.vocabSize)", with: "\"vocab_size\": \(g.config.vocabSize - 1)")
        XCTAssertNotEqual(smaller, g.metadata["config_v4"]!)
        try Data(smaller.utf8).write(to: encoderFolder.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try QwenImageTextEncoding.load(from: folder)) { error in
            XCTAssert("\(error)".contains("expected ids below vocab_size"), "\(error)")
        }
    }
}
