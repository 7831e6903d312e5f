import Checkpoints
import Foundation
import Models
import TestSupport
import XCTest

/// Qwen2-VL (version 1) config.json in both layouts transformers writes: the hub's transformers 4 file (text fields
/// at the top level, `rope_scaling` {type: mrope}, vision_config with `in_chans`) and transformers 5's (nested
/// `text_config` with `rope_parameters`, `in_channels`), the latter written by transformers itself
/// (tools/goldens/videoalign_model.py, metadata of videoalign_model.safetensors).
final class Qwen2VisionConfigTests: XCTestCase {
    private func write(_ object: Any) throws -> URL {
        let file = try temporaryDirectory(self).appendingPathComponent("config.json")
        try JSONSerialization.data(withJSONObject: object).write(to: file)
        return file
    }

    func testTinyConfigReadsTheSameInBothLayouts() throws {
        let file = try SafeTensorsFile(url: Fixture.url("videoalign_model.safetensors"))
        let meta = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(XCTUnwrap(file.metadata["config"]).utf8)) as? [String: Any])
        let t4 = try write(XCTUnwrap(meta["config_t4"]))
        let t5 = try write(XCTUnwrap(meta["config_t5"]))
        XCTAssertNotNil((meta["config_t5"] as? [String: Any])?["text_config"], "transformers 5 nests text_config")
        XCTAssertNil((meta["config_t5"] as? [String: Any])?["hidden_size"])
        let vision4 = try Qwen2VisionConfig.load(t4)
        let vision5 = try Qwen2VisionConfig.load(t5)
        XCTAssertEqual(vision4, vision5)
        XCTAssertEqual(vision4.embedDim, 16)
        XCTAssertEqual(vision4.hiddenSize, 32)
        XCTAssertEqual(vision4.patchSize, 2)
        let text4 = try Qwen2_5_VLTextConfig.load(t4)
        let text5 = try Qwen2_5_VLTextConfig.load(t5)
        XCTAssertEqual(text4.mropeSection, [1, 1, 2])
        XCTAssertEqual(text4.ropeType, "mrope")
        XCTAssertEqual(text5.ropeType, "default")
        var same = text4
        same.ropeType = text5.ropeType
        XCTAssertEqual(same, text5)
        XCTAssertEqual(text5.hiddenSize, 32)
        XCTAssertEqual(text5.numKeyValueHeads, 2)
        XCTAssertEqual(text5.ropeTheta, 10_000)
        XCTAssertEqual(text5.rmsNormEps, 1e-6)
    }

    /// Qwen2-VL-2B-Instruct's config.json as the hub has it (transformers 4 layout).
    func testQwen2VL2BHubConfig() throws {
        let file = try write(
            [
                "architectures": ["Qwen2VLForConditionalGeneration"], "bos_token_id": 151643, "eos_token_id": 151645,
                "vision_start_token_id": 151652, "vision_end_token_id": 151653, "vision_token_id": 151654,
                "image_token_id": 151655, "video_token_id": 151656, "hidden_act": "silu", "hidden_size": 1536,
                "intermediate_size": 8960, "max_position_embeddings": 32768, "max_window_layers": 28,
                "model_type": "qwen2_vl", "num_attention_heads": 12, "num_hidden_layers": 28, "num_key_value_heads": 2,
                "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 32768, "tie_word_embeddings": true,
                "torch_dtype": "bfloat16", "transformers_version": "4.41.2", "use_cache": true,
                "use_sliding_window": false,
                "vision_config": [
                    "depth": 32, "embed_dim": 1280, "mlp_ratio": 4, "num_heads": 16, "in_chans": 3, "hidden_size": 1536,
                    "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2
                ] as [String: Any],
                "rope_scaling": ["type": "mrope", "mrope_section": [16, 24, 24]] as [String: Any], "vocab_size": 151936
            ] as [String: Any])
        let vision = try Qwen2VisionConfig.load(file)
        XCTAssertEqual(vision.embedDim, 1280)
        XCTAssertEqual(vision.hiddenSize, 1536)
        XCTAssertEqual(vision.mlpHiddenDim, 5120)
        XCTAssertEqual(vision.headDim, 80)
        XCTAssertEqual(vision.hiddenAct, "quick_gelu")
        XCTAssertEqual(vision.patchValues, 1176)
        XCTAssertEqual(vision.ropeTheta, 10_000)
        let text = try Qwen2_5_VLTextConfig.load(file)
        XCTAssertEqual(text.hiddenSize, 1536)
        XCTAssertEqual(text.numHiddenLayers, 28)
        XCTAssertEqual(text.numAttentionHeads, 12)
        XCTAssertEqual(text.numKeyValueHeads, 2)
        XCTAssertEqual(text.headDim, 128)
        XCTAssertEqual(text.mropeSection, [16, 24, 24])
        XCTAssertEqual(text.ropeTheta, 1_000_000)
        XCTAssertEqual(text.vocabSize, 151_936)
        // The same file as transformers 5 rewrites it (nested text_config, rope_parameters, in_channels).
        let golden = try SafeTensorsFile(url: Fixture.url("videoalign_model.safetensors"))
        let meta = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(XCTUnwrap(golden.metadata["config"]).utf8)) as? [String: Any])
        let t5 = try write(XCTUnwrap(meta["config_2b_t5"]))
        XCTAssertEqual(try Qwen2VisionConfig.load(t5), vision)
        var text5 = try Qwen2_5_VLTextConfig.load(t5)
        XCTAssertEqual(text5.ropeType, "default")
        text5.ropeType = text.ropeType
        XCTAssertEqual(text5, text)
        // The tower this config builds has the 665,271,296 parameters of transformers' (meta-device count).
        XCTAssertEqual(Qwen2VisionTransformer(vision).parameterCount(), 665_271_296)
    }

    func testBadVisionConfigIsNamed() throws {
        let file = try write(["vision_config": ["embed_dim": 30, "num_heads": 4, "hidden_act": "relu"]])
        XCTAssertThrowsError(try Qwen2VisionConfig.load(file)) { error in
            let message = "\(error)"
            XCTAssert(message.contains("vision_config.embed_dim"), message)
            XCTAssert(message.contains("vision_config.hidden_act"), message)
        }
    }
}
