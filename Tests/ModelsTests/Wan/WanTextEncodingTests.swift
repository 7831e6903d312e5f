import Checkpoints
import Engine
import Foundation
import Models
import TestSupport
import XCTest

/// Wan's prompt handling against diffusers' `WanPipeline._get_t5_prompt_embeds` run on the tiny UMT5 encoder and
/// tokenizer of tools/goldens/umt5.py (max_sequence_length 32 there to keep the fixture small; 512 is the default).
final class WanTextEncodingTests: XCTestCase {
    /// A Wan folder's `tokenizer/` (either transformers layout) and `text_encoder/`.
    private func wanFolder(tokenizerLayout: String) throws -> (URL, [String], [String: Tensor]) {
        let file = try SafeTensorsFile(url: Fixture.url("umt5_encoder.safetensors"))
        let tensors = try file.tensors()
        let folder = try temporaryDirectory(self)
        let encoder = folder.appendingPathComponent("text_encoder")
        try FileManager.default.createDirectory(at: encoder, withIntermediateDirectories: true)
        try Data(file.metadata["config"]!.utf8).write(to: encoder.appendingPathComponent("config.json"))
        var params: [String: Tensor] = [:]
        for (k, v) in tensors where k.hasPrefix("param.") { params[String(k.dropFirst(6))] = v }
        try SafeTensors.save(params, to: encoder.appendingPathComponent("model.safetensors"))
        try FileManager.default.copyItem(
            at: Fixture.url("tokenizers/umt5/\(tokenizerLayout)"), to: folder.appendingPathComponent("tokenizer"))
        let prompts = try JSONDecoder().decode([String].self, from: Data(file.metadata["wan_prompts"]!.utf8))
        return (folder, prompts, tensors)
    }

    func testPromptEmbedsMatchDiffusers() throws {
        let (folder, prompts, g) = try wanFolder(tokenizerLayout: "json")
        let encoder = try WanTextEncoder.load(from: folder)
        let inputs = encoder.tokenize(prompts, maxSequenceLength: 32)
        XCTAssertEqual(inputs.ids.toArray(Int32.self), g["wan.input_ids"]!.toArray(Int32.self))
        XCTAssertEqual(inputs.attentionMask.toArray(Int32.self), g["wan.attention_mask"]!.toArray(Int32.self))
        XCTAssertEqual(inputs.lengths.last, 32, "the long prompt is truncated")
        XCTAssertLessThan(inputs.lengths[0], 32)

        let expected = g["wan.prompt_embeds"]!
        let embeds = encoder.encode(prompts, maxSequenceLength: 32)
        XCTAssertEqual(embeds.dtype, .float32)
        assertClose(embeds, expected, tolerance: 1e-4)
        let scale = expected.abs().max().item(Float.self)
        print("Wan prompt embeds: max abs error \(maxAbsDifference(embeds, expected)) (max |reference| \(scale))")
        // Past a prompt's length the rows are exactly zero, as diffusers pads them.
        let padded = embeds[0, inputs.lengths[0]...]
        XCTAssertEqual(padded.abs().max().item(Float.self), 0)
        XCTAssertGreaterThan(embeds[0, ..<inputs.lengths[0]].abs().max().item(Float.self), 0)

        // The default length is WanPipeline's 512.
        XCTAssertEqual(encoder.encode([prompts[0]]).shape, [1, 512, 16])
    }

    /// `encode_prompt`'s negative side: one negative prompt for every prompt, or "" when there is none.
    func testNegativePromptMatchesDiffusers() throws {
        let (folder, prompts, g) = try wanFolder(tokenizerLayout: "json")
        let file = try SafeTensorsFile(url: Fixture.url("umt5_encoder.safetensors"))
        let negative = file.metadata["wan_negative_prompt"]!
        let encoder = try WanTextEncoder.load(from: folder)
        let both = encoder.encode(prompts, negativePrompt: negative, maxSequenceLength: 32)
        assertClose(both.prompt, g["wan.prompt_embeds"]!, tolerance: 1e-4, "prompts")
        assertClose(both.negative, g["wan.negative_prompt_embeds"]!, tolerance: 1e-4, "negative prompt")
        let empty = encoder.encode([prompts[0]], negativePrompt: nil, maxSequenceLength: 32).negative
        assertClose(empty, g["wan.empty_negative_prompt_embeds"]!, tolerance: 1e-4, "no negative prompt")
        print(
            "Wan negative prompt embeds: max abs error "
                + "\(maxAbsDifference(both.negative, g["wan.negative_prompt_embeds"]!)), "
                + "empty \(maxAbsDifference(empty, g["wan.empty_negative_prompt_embeds"]!))")
    }

    /// transformers 4 folders ship spiece.model without tokenizer.json; the ids (and so the embeddings) are the same.
    func testSpieceOnlyTokenizerFolder() throws {
        let (folder, prompts, g) = try wanFolder(tokenizerLayout: "spiece")
        let encoder = try WanTextEncoder.load(from: folder)
        let inputs = encoder.tokenize(prompts, maxSequenceLength: 32)
        XCTAssertEqual(inputs.ids.toArray(Int32.self), g["wan.input_ids"]!.toArray(Int32.self))
        assertClose(encoder.encode(prompts, maxSequenceLength: 32), g["wan.prompt_embeds"]!, tolerance: 1e-4)
    }

    func testTokenizerLargerThanEncoderTableIsAnError() throws {
        let (folder, _, _) = try wanFolder(tokenizerLayout: "json")
        let config = folder.appendingPathComponent("text_encoder/config.json")
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: config)) as! [String: Any]
        json["vocab_size"] = 650
        try JSONSerialization.data(withJSONObject: json).write(to: config)
        XCTAssertThrowsError(try WanTextEncoder.load(from: folder)) { error in
            XCTAssert("\(error)".contains("tokenizer"), "\(error)")
        }
        try FileManager.default.removeItem(at: folder.appendingPathComponent("tokenizer"))
        XCTAssertThrowsError(try WanTextEncoder.load(from: folder)) { error in
            XCTAssert("\(error)".contains("tokenizer"), "\(error)")
        }
    }
}
