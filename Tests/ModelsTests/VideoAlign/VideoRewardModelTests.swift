import Checkpoints
import Engine
import Foundation
import Models
import NN
import TestSupport
import XCTest

/// Parity with VideoAlign's reward model (Qwen2VLRewardModelBT's forward over transformers' Qwen2-VL, LoRA as peft
/// applies it) on a tiny random config, loaded from a checkpoint folder in the layout users download
/// (tools/goldens/videoalign_model.py: Fixtures/videoalign_mini/ and videoalign_model.safetensors).
final class VideoRewardModelTests: XCTestCase {
    private struct Golden {
        let tensors: [String: Tensor]
        let meta: [String: Any]
        subscript(_ key: String) -> Tensor { tensors[key]! }
        func rows(_ key: String) -> [[Int]] {
            let t = tensors[key]!
            let values = t.toArray(Float.self).map { Int($0) }
            return (0..<t.dim(0)).map { Array(values[($0 * t.dim(1))..<(($0 + 1) * t.dim(1))]) }
        }
        var grids: [(t: Int, h: Int, w: Int)] { rows("input.video_grid_thw").map { ($0[0], $0[1], $0[2]) } }
    }

    private func golden() throws -> Golden {
        let file = try SafeTensorsFile(url: Fixture.url("videoalign_model.safetensors"))
        let json = try XCTUnwrap(file.metadata["config"], "videoalign_model.safetensors has no config metadata")
        let meta = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        return Golden(tensors: try file.tensors(), meta: meta)
    }

    private var folder: URL { Fixture.url("videoalign_mini") }

    private func check(_ actual: Tensor, _ expected: Tensor, _ name: String) {
        let scale = max(1, expected.abs().max().item(Float.self))
        assertClose(actual, expected, tolerance: 1e-4, name)
        print("VideoAlign \(name): max abs error \(maxAbsDifference(actual, expected)), scale \(scale)")
    }

    func testVisionTowerMatchesTransformers() throws {
        let g = try golden()
        let tower = try Qwen2VisionTransformer.load(from: folder.appendingPathComponent("Qwen2-VL-2B-Instruct"))
        XCTAssertEqual(tower.config.embedDim, 16)
        XCTAssertEqual(tower.config.mlpHiddenDim, 32)
        check(tower(g["input.pixel_values_videos"], grids: g.grids), g["output.video_embeds"], "vision tower")
    }

    func testRewardLogitsMatchVideoAlign() throws {
        let g = try golden()
        let (model, config) = try VideoRewardModel.load(from: folder)
        XCTAssertEqual(model.pooling.mode, .special)
        XCTAssertEqual(model.pooling.specialTokenIDs, [69, 70, 71])
        XCTAssertEqual(model.model.config.vocabSize, 72, "the embedding resized to the tokenizer")
        XCTAssertEqual(model.videoTokenID, 63)
        XCTAssertEqual(config.modelConfig.outputDim, 1)
        let ids = g.rows("input.input_ids")
        let mask = g.rows("input.attention_mask")
        // The merger comes from non_lora_state_dict.pth, not the base model.
        check(model.visual(g["input.pixel_values_videos"], grids: g.grids), g["output.reward_video_embeds"], "merger")
        let hidden = try model.hiddenStates(
            ids: ids, attentionMask: mask, pixelValuesVideos: g["input.pixel_values_videos"], videoGrids: g.grids)
        // Padding positions are not compared: their rows differ only by what a fully masked row attends to.
        let real = Tensor(mask.flatMap { $0.map { Float($0) } }, shape: [2, ids[0].count, 1])
        check(hidden * real, g["output.hidden"] * real, "hidden states (real tokens)")
        let logits = try model(
            inputIDs: g["input.input_ids"], attentionMask: g["input.attention_mask"],
            pixelValuesVideos: g["input.pixel_values_videos"], videoGridTHW: g["input.video_grid_thw"])
        check(logits, g["output.logits_special"], "logits (VQ, MQ, TA)")
    }

    func testLastAndMeanPoolingMatchVideoAlign() throws {
        let g = try golden()
        let (model, _) = try VideoRewardModel.load(from: folder)
        let ids = g.rows("input.input_ids")
        let arguments = (ids: ids, mask: g.rows("input.attention_mask"), pixels: g["input.pixel_values_videos"])
        for (mode, key) in [(VideoRewardPooling.Mode.last, "output.logits_last"), (.mean, "output.logits_mean")] {
            model.pooling = VideoRewardPooling(mode: mode, outputDim: 1, padTokenID: 64)
            let logits = try model(
                ids: arguments.ids, attentionMask: arguments.mask, pixelValuesVideos: arguments.pixels,
                videoGrids: g.grids)
            check(logits, g[key], "logits (\(mode))")
        }
        // A row without its three reward tokens is refused rather than read across rows.
        model.pooling = VideoRewardPooling(mode: .special, specialTokenIDs: [69, 70])
        XCTAssertThrowsError(
            try model(
                ids: arguments.ids, attentionMask: arguments.mask, pixelValuesVideos: arguments.pixels,
                videoGrids: g.grids))
    }

    /// VideoAlign runs the text model with position ids 0 ..< L; Qwen2-VL's 3D video positions give other logits,
    /// and so does the base model without the LoRA checkpoint: the parity above depends on both.
    func testPositionsAndLoRAMatter() throws {
        let g = try golden()
        let (model, _) = try VideoRewardModel.load(from: folder)
        let ids = g.rows("input.input_ids")
        let mask = g.rows("input.attention_mask")
        let embeds = try model.inputEmbeddings(
            ids: ids, pixelValuesVideos: g["input.pixel_values_videos"], videoGrids: g.grids)
        let maskTensor = g["input.attention_mask"].asType(.int32)
        let rope = Qwen2VLRopeIndex.positionIDs(
            ids: ids, attentionMask: mask, imageTokenID: 62, videoTokenID: 63, videoGrids: g.grids,
            spatialMergeSize: 2)
        let hidden3D = model.model(inputsEmbeds: embeds, attentionMask: maskTensor, positionIDs: rope)
        let logits3D = try model.pooling(model.rmHead(hidden3D), ids: ids)
        XCTAssertGreaterThan(maxAbsDifference(logits3D, g["output.logits_special"]), 1e-3)

        let bare = try temporaryDirectory(self)
        try FileManager.default.copyItem(
            at: folder.appendingPathComponent("model_config.json"), to: bare.appendingPathComponent("model_config.json")
        )
        try FileManager.default.createDirectory(
            at: bare.appendingPathComponent("checkpoint-12"), withIntermediateDirectories: true)
        for name in ["non_lora_state_dict.pth", "adapter_config.json"] {
            try FileManager.default.copyItem(
                at: folder.appendingPathComponent("checkpoint-12/\(name)"),
                to: bare.appendingPathComponent("checkpoint-12/\(name)"))
        }
        // An adapter of zeros: the base language model as it was.
        let adapter = try SafeTensors.load(folder.appendingPathComponent("checkpoint-12/adapter_model.safetensors"))
        try SafeTensors.save(
            adapter.mapValues { Tensor.zeros($0.shape) },
            to: bare.appendingPathComponent("checkpoint-12/adapter_model.safetensors"))
        let (noLoRA, _) = try VideoRewardModel.load(
            from: bare, base: folder.appendingPathComponent("Qwen2-VL-2B-Instruct"))
        let logits = try noLoRA(
            ids: ids, attentionMask: mask, pixelValuesVideos: g["input.pixel_values_videos"], videoGrids: g.grids)
        XCTAssertGreaterThan(maxAbsDifference(logits, g["output.logits_special"]), 1e-3)
    }

    /// The base model as transformers 5 saves it: nested text_config, keys `model.visual.*` and
    /// `model.language_model.*`.
    func testTransformers5BaseFolderLoads() throws {
        let g = try golden()
        let dir = try copy()
        let base = dir.appendingPathComponent("Qwen2-VL-2B-Instruct")
        let tensors = try SafeTensors.load(base.appendingPathComponent("model.safetensors"))
        var renamed: [String: Tensor] = [:]
        for (key, value) in tensors {
            let name =
                key.hasPrefix("visual.")
                ? "model." + key : key.hasPrefix("model.") ? "model.language_model." + key.dropFirst(6) : key
            renamed[name] = value
        }
        XCTAssertNotNil(renamed["model.language_model.layers.1.mlp.down_proj.weight"])
        try SafeTensors.save(renamed, to: base.appendingPathComponent("model.safetensors"))
        try JSONSerialization.data(withJSONObject: XCTUnwrap(g.meta["config_t5"])).write(
            to: base.appendingPathComponent("config.json"))
        let (model, _) = try VideoRewardModel.load(from: dir)
        let logits = try model(
            ids: g.rows("input.input_ids"), attentionMask: g.rows("input.attention_mask"),
            pixelValuesVideos: g["input.pixel_values_videos"], videoGrids: g.grids)
        check(logits, g["output.logits_special"], "logits, transformers 5 base folder")
    }

    /// A whole-model `checkpoint-<N>/model.pth` of the peft-wrapped model (`base_model.model.` prefix,
    /// `.base_layer.weight`, `lora_A.default.weight`, `rm_head` as a module to save; the scaling from
    /// model_config.json's peft_lora_config). It is written as safetensors under that name: checkpoints are
    /// recognised by content, and the key handling is what is tested here.
    func testWholeModelPthWithPeftNamesLoads() throws {
        let g = try golden()
        let dir = try copy()
        let step = dir.appendingPathComponent("checkpoint-12")
        let base = try SafeTensors.load(dir.appendingPathComponent("Qwen2-VL-2B-Instruct/model.safetensors"))
        let adapter = try SafeTensors.load(step.appendingPathComponent("adapter_model.safetensors"))
        let nonLoRA = try openCheckpoint(path: step.appendingPathComponent("non_lora_state_dict.pth")).tensors()
        var full: [String: Tensor] = [:]
        for (key, value) in base {
            let module = String(key.dropLast(".weight".count))
            let adapted = adapter["base_model.model.\(module).lora_A.weight"] != nil
            full[adapted ? "base_model.model.\(module).base_layer.weight" : "base_model.model." + key] = value
        }
        for (key, value) in nonLoRA { full[key] = value }
        // rm_head as peft's modules_to_save keeps it: the trained copy, and the original to be ignored.
        full["base_model.model.rm_head.modules_to_save.default.weight"] = full["base_model.model.rm_head.weight"]
        full["base_model.model.rm_head.original_module.weight"] = Tensor.zeros([1, 32])
        full["base_model.model.rm_head.weight"] = nil
        for (key, value) in adapter {
            full[key.replacingOccurrences(of: ".weight", with: ".default.weight")] = value
        }
        let whole = dir.appendingPathComponent("checkpoint-20")
        try FileManager.default.createDirectory(at: whole, withIntermediateDirectories: true)
        try SafeTensors.save(full, to: whole.appendingPathComponent("model.pth"))
        let (model, _) = try VideoRewardModel.load(from: dir)
        let logits = try model(
            ids: g.rows("input.input_ids"), attentionMask: g.rows("input.attention_mask"),
            pixelValuesVideos: g["input.pixel_values_videos"], videoGrids: g.grids)
        check(logits, g["output.logits_special"], "logits, whole-model checkpoint")
        // Asking for the LoRA step reads that one instead.
        let (earlier, _) = try VideoRewardModel.load(from: dir, step: 12)
        XCTAssertEqual(earlier.model.config.vocabSize, 72)
    }

    /// bfloat16 weights (the released checkpoint's dtype): the same logits within bfloat16's precision.
    func testBFloat16Load() throws {
        let g = try golden()
        let (model, _) = try VideoRewardModel.load(from: folder, dtype: .bfloat16)
        XCTAssertEqual(model.rmHead.weight.dtype, .bfloat16)
        let logits = try model(
            ids: g.rows("input.input_ids"), attentionMask: g.rows("input.attention_mask"),
            pixelValuesVideos: g["input.pixel_values_videos"], videoGrids: g.grids)
        assertClose(logits, g["output.logits_special"], tolerance: 0.05, "bfloat16")
        print("VideoAlign logits bfloat16: max abs error \(maxAbsDifference(logits, g["output.logits_special"]))")
    }

    /// output_dim 3 reads each reward token's own column; other widths keep every column of the three tokens.
    func testSpecialPoolingWidths() throws {
        let values = (0..<(2 * 5 * 3)).map { Float($0) }
        let logits = Tensor(values, shape: [2, 5, 3])
        let ids = [[1, 7, 2, 8, 9], [7, 8, 3, 9, 0]]
        let diagonal = try VideoRewardPooling(mode: .special, outputDim: 3, specialTokenIDs: [7, 8, 9])(
            logits, ids: ids)
        // Row 0: tokens at 1, 3, 4 → logits[0,1,0], [0,3,1], [0,4,2]; row 1: at 0, 1, 3.
        XCTAssertEqual(diagonal.toArray(Float.self), [3, 10, 14, 15, 19, 26])
        let two = Tensor((0..<20).map { Float($0) }, shape: [2, 5, 2])
        let flat = try VideoRewardPooling(mode: .special, outputDim: 2, specialTokenIDs: [9, 8, 7])(two, ids: ids)
        XCTAssertEqual(flat.shape, [2, 6])
        XCTAssertEqual(flat.toArray(Float.self), [2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 16, 17])
        let last = try VideoRewardPooling(mode: .last, outputDim: 2, padTokenID: 0)(two, ids: ids)
        // Row 0 has no pad: its last position; row 1's first pad is at 4: position 3.
        XCTAssertEqual(last.toArray(Float.self), [8, 9, 16, 17])
    }

    func testRopeIndexMatchesTransformers() throws {
        let g = try golden()
        let positions = Qwen2VLRopeIndex.positionIDs(
            ids: g.rows("input.input_ids"), attentionMask: g.rows("input.attention_mask"), imageTokenID: 62,
            videoTokenID: 63, videoGrids: g.grids, spatialMergeSize: 2)
        XCTAssertEqual(positions.asType(.float32).toArray(Float.self), g["output.position_ids"].toArray(Float.self))
    }

    func testModelConfigAndNormalisationRoundTrip() throws {
        let config = try VideoAlignConfig.load(folder)
        XCTAssertEqual(config.dataConfig.fps, 2)
        XCTAssertNil(config.dataConfig.numFrames)
        XCTAssertEqual(config.dataConfig.maxFramePixels, 200_704)
        XCTAssertEqual(config.dataConfig.sampleType, "uniform")
        XCTAssertEqual(config.dataConfig.evalDim, [.visualQuality, .motionQuality, .textAlignment])
        XCTAssertEqual(config.dataConfig.promptTemplateType, .detailedSpecial)
        XCTAssertEqual(config.modelConfig.modelNameOrPath, "Qwen/Qwen2-VL-2B-Instruct")
        XCTAssertTrue(config.modelConfig.useSpecialTokens)
        XCTAssertEqual(config.pooling, .special)
        XCTAssertEqual(config.peftLoraConfig?.loraR, 4)
        XCTAssertEqual(config.peftLoraConfig?.loraAlpha, 16)
        let stats = try XCTUnwrap(config.inferenceConfig)
        XCTAssertEqual(stats.vqMean, 3.6757)
        XCTAssertEqual(stats.mqStd, 1.3811)

        // _norm: (raw − mean) / std; the seed's plots: normalized · std + mean (VQ · 2.2476 + 3.6757).
        let raw = VideoAlignScores(vq: 3.6757 + 2.2476, mq: 1.1646 - 2 * 1.3811, ta: 2.8105)
        let normalized = config.normalized(raw)
        XCTAssertEqual(normalized.vq, 1, accuracy: 1e-12)
        XCTAssertEqual(normalized.mq, -2, accuracy: 1e-12)
        XCTAssertEqual(normalized.ta, 0, accuracy: 1e-12)
        XCTAssertEqual(normalized.overall, -1, accuracy: 1e-12)
        let back = config.denormalized(normalized)
        XCTAssertEqual(back.vq, raw.vq, accuracy: 1e-12)
        XCTAssertEqual(back.mq, raw.mq, accuracy: 1e-12)
        XCTAssertEqual(back.ta, raw.ta, accuracy: 1e-12)
        XCTAssertEqual(config.denormalized(VideoAlignScores(vq: 0.5, mq: 0, ta: 0)).vq, 0.5 * 2.2476 + 3.6757)
        // Without inference_config the scores pass through, as _norm does.
        var bare = config
        bare.inferenceConfig = nil
        XCTAssertEqual(bare.normalized(raw), raw)
        // data_config's eval_dim may be one string; num_frames a whole float.
        let one = try JSONDecoder().decode(
            VideoAlignInputDataConfig.self, from: Data(#"{"eval_dim": "MQ", "num_frames": 8.0, "fps": null}"#.utf8))
        XCTAssertEqual(one.evalDim, [.motionQuality])
        XCTAssertEqual(one.numFrames, 8)
        XCTAssertNil(one.fps)
        // A fractional frame count, or neither a rate nor a count, is refused.
        var fractional = config
        fractional.dataConfig.numFrames = 8.5
        XCTAssert(fractional.problems().contains { $0.contains("data_config.num_frames") }, "\(fractional.problems())")
        var neither = config
        neither.dataConfig.fps = nil
        XCTAssert(neither.problems().contains { $0.contains("fps or num_frames") }, "\(neither.problems())")
        XCTAssertThrowsError(try VideoAlignInputSettings(dataConfig: neither.dataConfig)) {
            XCTAssertTrue("\($0)".contains("fps or num_frames"), "\($0)")
        }
    }

    // MARK: - Errors that name what is wrong

    /// A copy of the fixture folder to break.
    private func copy() throws -> URL {
        let dir = try temporaryDirectory(self).appendingPathComponent("videoalign", isDirectory: true)
        try FileManager.default.copyItem(at: folder, to: dir)
        return dir
    }

    private func assertLoadError(_ dir: URL, mentions: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try VideoRewardModel.load(from: dir), file: file, line: line) { error in
            let message = "\(error)"
            for text in mentions {
                XCTAssert(message.contains(text), "'\(message)' does not mention \(text)", file: file, line: line)
            }
        }
    }

    func testMissingModelConfigIsNamed() throws {
        let dir = try copy()
        try FileManager.default.removeItem(at: dir.appendingPathComponent("model_config.json"))
        assertLoadError(dir, mentions: ["model_config.json", "not found"])
    }

    func testMissingAndMisshapenTensorsAreNamed() throws {
        let dir = try copy()
        let baseFile = dir.appendingPathComponent("Qwen2-VL-2B-Instruct/model.safetensors")
        let base = try SafeTensors.load(baseFile)
        var missing = base
        missing["model.norm.weight"] = nil
        try SafeTensors.save(missing, to: baseFile)
        assertLoadError(dir, mentions: ["model.norm.weight"])
        var misshapen = base
        misshapen["visual.blocks.1.norm2.bias"] = Tensor.zeros([17])
        try SafeTensors.save(misshapen, to: baseFile)
        assertLoadError(dir, mentions: ["visual.blocks.1.norm2.bias", "17"])
    }

    func testMissingBaseModelAndCheckpointAreNamed() throws {
        let dir = try copy()
        try FileManager.default.removeItem(at: dir.appendingPathComponent("Qwen2-VL-2B-Instruct"))
        assertLoadError(dir, mentions: ["Qwen2-VL-2B-Instruct", "base"])
        try FileManager.default.removeItem(at: dir.appendingPathComponent("checkpoint-12"))
        assertLoadError(dir, mentions: ["checkpoint-2", "model.pth"])
        try FileManager.default.removeItem(at: dir.appendingPathComponent("checkpoint-2"))
        assertLoadError(dir, mentions: ["checkpoint-"])
    }
}
