import Checkpoints
import Engine
import Foundation
@testable import Models
import TestSupport
import XCTest

/// transformers `LlamaModel` (tools/goldens/hunyuan_video_text.py): 3 layers, grouped-query attention, llama3 rope
/// scaling, a padding mask; every `hidden_states[i]` of `output_hidden_states=True`.
final class LlamaModelTests: XCTestCase {
    static let folder = Fixture.url("hunyuan_video_text/text_encoder")

    static func golden() throws -> SafeTensorsFile {
        try SafeTensorsFile(url: Fixture.url("hunyuan_video_text.safetensors"))
    }

    private func check(_ actual: Tensor, _ expected: Tensor, _ name: String) -> Float {
        XCTAssertEqual(actual.shape, expected.shape, name)
        let scale = expected.abs().max().item(Float.self)
        let error = maxAbsDifference(actual, expected)
        XCTAssertLessThanOrEqual(error, 1e-4 * max(scale, 1), name)
        print("Llama \(name): max abs error \(error), max |reference| \(scale)")
        return error
    }

    func testHiddenStatesMatchTransformers() throws {
        let g = try Self.golden()
        let tensors = try g.tensors()
        let model = try LlamaModel.load(from: Self.folder)
        XCTAssertEqual(model.config.rope.ropeType, "llama3")
        XCTAssertEqual(model.config.numKeyValueHeads, 2)
        let (ids, mask) = (tensors["input.input_ids"]!, tensors["input.attention_mask"]!)
        for index in 0...3 {
            let expected = tensors["output.hidden_states.\(index)"]!
            _ = check(model.hiddenState(ids, attentionMask: mask, index: index), expected, "hidden_states[\(index)]")
            _ = check(model.hiddenState(ids, attentionMask: mask, index: index - 4), expected, "[\(index - 4)]")
        }
        _ = check(model(ids, attentionMask: mask), tensors["output.hidden_states.3"]!, "last_hidden_state")
        // Under right padding and causal attention the real tokens never see a pad; with the mask the padded
        // positions see only the real keys, so the mask shows there.
        let unmasked = model(ids)
        XCTAssertGreaterThan(maxAbsDifference(unmasked, tensors["output.hidden_states.3"]!), 1e-3)
    }

    /// The same weights with the default rotary embedding (the llama3 rescaling matters), and the transformers 4
    /// config layout (`rope_theta` at the top level, `rope_scaling`) loading the same model.
    func testRopeVariantsAndConfigLayouts() throws {
        let g = try Self.golden()
        let tensors = try g.tensors()
        let (ids, mask) = (tensors["input.input_ids"]!, tensors["input.attention_mask"]!)
        let v4 = try temporaryDirectory(self)
        try Data(g.metadata["config_v4"]!.utf8).write(to: v4.appendingPathComponent("config.json"))
        try FileManager.default.copyItem(
            at: Self.folder.appendingPathComponent("model.safetensors"),
            to: v4.appendingPathComponent("model.safetensors"))
        let fromV4 = try LlamaModel.load(from: v4)
        XCTAssertEqual(fromV4.config, try LlamaConfig.load(Self.folder))
        _ = check(fromV4(ids, attentionMask: mask), tensors["output.hidden_states.3"]!, "transformers 4 config")

        var object =
            try JSONSerialization.jsonObject(with: Data(g.metadata["config"]!.utf8)) as! [String: Any]
        object["rope_parameters"] = ["rope_type": "default", "rope_theta": 10000.0]
        try JSONSerialization.data(withJSONObject: object).write(to: v4.appendingPathComponent("config.json"))
        let plain = try LlamaModel.load(from: v4)
        let expected = tensors["output.default_rope.last_hidden_state"]!
        _ = check(plain(ids, attentionMask: mask), expected, "default rope")
        XCTAssertGreaterThan(maxAbsDifference(fromV4(ids, attentionMask: mask), expected), 1e-3)

        object["rope_parameters"] = ["rope_type": "yarn", "rope_theta": 10000.0]
        try JSONSerialization.data(withJSONObject: object).write(to: v4.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try LlamaModel.load(from: v4)) { error in
            XCTAssert("\(error)".contains("expected default or llama3"), "\(error)")
        }
    }

    /// A `LlamaForCausalLM` checkpoint (`model.` prefix, `lm_head`) loads the same model; a missing key is an error.
    func testCausalLMCheckpoint() throws {
        let checkpoint = try SafeTensorsFile(url: Self.folder.appendingPathComponent("model.safetensors")).tensors()
        let folder = try temporaryDirectory(self)
        try FileManager.default.copyItem(
            at: Self.folder.appendingPathComponent("config.json"), to: folder.appendingPathComponent("config.json"))
        var nested = Dictionary(uniqueKeysWithValues: checkpoint.map { ("model." + $0.key, $0.value) })
        nested["lm_head.weight"] = checkpoint["embed_tokens.weight"]!
        try SafeTensors.save(nested, to: folder.appendingPathComponent("model.safetensors"))
        let model = try LlamaModel.load(from: folder)
        XCTAssertEqual(model.parameterCount(), checkpoint.values.reduce(0) { $0 + $1.count })
        nested["model.norm.weight"] = nil
        try SafeTensors.save(nested, to: folder.appendingPathComponent("model.safetensors"))
        XCTAssertThrowsError(try LlamaModel.load(from: folder))
    }
}
