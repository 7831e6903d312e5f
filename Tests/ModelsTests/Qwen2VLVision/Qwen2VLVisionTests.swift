import Checkpoints
import Engine
import Foundation
import Models
import NN
import TestSupport
import XCTest

/// Parity with transformers' Qwen2_5_VisionTransformerPretrainedModel and Qwen2VLImageProcessor on a tiny random
/// config (tools/goldens/qwen2vl_vision.py): depth 3 with block 1 full attention, windows of 2 × 2 merged tokens
/// over two images (grids 8 × 8 and 4 × 6 patches) and a two-frame grid.
final class Qwen2VLVisionTests: XCTestCase {
    private struct Golden {
        let config: Qwen2VLVisionConfig
        let processor: Qwen2VLImageProcessor
        let configJSON: String
        let params: [String: Tensor]
        let tensors: [String: Tensor]
        subscript(_ key: String) -> Tensor { tensors[key]! }
        func ints(_ key: String) -> [Int] { tensors[key]!.asType(.float32).toArray(Float.self).map { Int($0) } }
    }

    private func golden() throws -> Golden {
        let file = try SafeTensorsFile(url: Fixture.url("qwen2vl_vision.safetensors"))
        let json = try XCTUnwrap(file.metadata["config"], "qwen2vl_vision.safetensors has no config metadata")
        let config = try JSONDecoder().decode(Qwen2VLVisionConfig.self, from: Data(json.utf8))
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let processorJSON = try JSONSerialization.data(withJSONObject: object["processor"]!)
        let processor = try JSONDecoder().decode(Qwen2VLImageProcessor.self, from: processorJSON)
        let all = try file.tensors()
        var params: [String: Tensor] = [:]
        for (k, v) in all where k.hasPrefix("param.") { params[String(k.dropFirst(6))] = v }
        return Golden(
            config: config, processor: processor, configJSON: json, params: params, tensors: all)
    }

    private func model(_ g: Golden) throws -> Qwen2VLVisionTransformer {
        let model = Qwen2VLVisionTransformer(g.config)
        try model.load(g.params)
        return model
    }

    private let imageGrids: [(t: Int, h: Int, w: Int)] = [(1, 8, 8), (1, 4, 6)]

    func testConfigReadsTheFixtureAndQwen25VLDefaults() throws {
        let g = try golden()
        XCTAssertEqual(g.config.depth, 3)
        XCTAssertEqual(g.config.fullattBlockIndexes, [1])
        XCTAssertEqual(g.config.mergedWindowSize, 2)
        XCTAssertEqual(g.config.patchValues, 96)
        XCTAssertEqual(g.processor.patchSize, 4)
        XCTAssertEqual(g.processor.maxPixels, 4096)
        // Qwen-Image-Edit's text_encoder/config.json vision_config (Qwen2.5-VL-7B), with the older `in_chans`.
        let file = try temporaryDirectory(self).appendingPathComponent("config.json")
        try Data(
            #"""
            {"architectures": ["Qwen2_5_VLForConditionalGeneration"], "hidden_size": 3584,
             "vision_config": {"depth": 32, "hidden_act": "silu", "hidden_size": 1280, "intermediate_size": 3420,
              "num_heads": 16, "in_chans": 3, "out_hidden_size": 3584, "patch_size": 14, "spatial_merge_size": 2,
              "spatial_patch_size": 14, "window_size": 112, "fullatt_block_indexes": [7, 15, 23, 31],
              "tokens_per_second": 2, "temporal_patch_size": 2}}
            """#.utf8
        ).write(to: file)
        let real = try Qwen2VLVisionConfig.load(file)
        XCTAssertEqual(real.hiddenSize, 1280)
        XCTAssertEqual(real.headDim, 80)
        XCTAssertEqual(real.mergedWindowSize, 4)
        XCTAssertEqual(real.patchValues, 1176)
        XCTAssertEqual(real.ropeTheta, 10_000)
        let roundTrip = try JSONDecoder().decode(Qwen2VLVisionConfig.self, from: JSONEncoder().encode(g.config))
        XCTAssertEqual(roundTrip, g.config)
        // Qwen2.5-VL's preprocessor_config.json, old (min/max_pixels) and new (size) spellings.
        let old = try JSONDecoder().decode(
            Qwen2VLImageProcessor.self, from: Data(#"{"min_pixels": 3136, "max_pixels": 12845056}"#.utf8))
        let new = try JSONDecoder().decode(
            Qwen2VLImageProcessor.self,
            from: Data(#"{"size": {"shortest_edge": 3136, "longest_edge": 12845056}}"#.utf8))
        XCTAssertEqual(old, new)
        XCTAssertEqual(old.maxPixels, 12_845_056)
        XCTAssertEqual(old.imageMean, [0.48145466, 0.4578275, 0.40821073])
    }

    /// Qwen2.5-VL-7B's vision tower (Qwen-Image-Edit's text_encoder/ under `visual.`): every key and shape of
    /// transformers' module, without weights (the model's 677M parameters stay lazy).
    func testQwen25VL7BConfigHasTheCheckpointKeysAndShapes() throws {
        struct Layout: Decodable {
            let visionConfig: Qwen2VLVisionConfig
            let parameterCount: Int
            let shapes: [String: [Int]]
            enum CodingKeys: String, CodingKey {
                case visionConfig = "vision_config", parameterCount = "parameter_count", shapes
            }
        }
        let layout = try JSONDecoder().decode(
            Layout.self, from: Data(contentsOf: Fixture.url("qwen2vl_vision_7b_shapes.json")))
        let model = Qwen2VLVisionTransformer(layout.visionConfig)
        let shapes = model.checkpointTensors().mapValues(\.shape)
        XCTAssertEqual(Set(shapes.keys).subtracting(layout.shapes.keys), [], "keys transformers does not have")
        XCTAssertEqual(Set(layout.shapes.keys).subtracting(shapes.keys), [], "transformers keys the model lacks")
        for (key, shape) in layout.shapes where shapes[key] != nil { XCTAssertEqual(shapes[key], shape, key) }
        XCTAssertEqual(model.parameterCount(), layout.parameterCount)
        XCTAssertEqual(layout.parameterCount, 676_550_144)
    }

    func testSmartResizeMatchesTransformers() throws {
        let g = try golden()
        let rows = g.ints("smart_resize")
        XCTAssertEqual(rows.count % 7, 0)
        for r in stride(from: 0, to: rows.count, by: 7) {
            let size = try Qwen2VLImageProcessor.smartResize(
                height: rows[r], width: rows[r + 1], factor: rows[r + 2], minPixels: rows[r + 3],
                maxPixels: rows[r + 4])
            XCTAssertEqual([size.height, size.width], [rows[r + 5], rows[r + 6]], "\(rows[r..<(r + 5)])")
        }
        // 42 / 28 = 1.5 rounds to 2 (Python rounds halves to even): 56, and 70 / 28 = 2.5 also to 2.
        let tie = try Qwen2VLImageProcessor.smartResize(height: 42, width: 70, minPixels: 0, maxPixels: 1 << 30)
        XCTAssertEqual([tie.height, tie.width], [56, 56])
        XCTAssertThrowsError(
            try Qwen2VLImageProcessor.smartResize(height: 2, width: 500, minPixels: 3136, maxPixels: 1 << 30))
    }

    func testPixelValuesMatchTheImageProcessor() throws {
        let g = try golden()
        var rows: [Tensor] = []
        for (i, grid) in imageGrids.enumerated() {
            let image = g["input.image\(i)"]
            let size = try g.processor.targetSize(height: image.dim(0), width: image.dim(1))
            XCTAssertEqual([size.height, size.width], [image.dim(0), image.dim(1)], "already at the processor's size")
            let (values, got) = g.processor.pixelValues(image)
            XCTAssertEqual([got.t, got.h, got.w], [grid.t, grid.h, grid.w])
            rows.append(values)
        }
        let pixelValues = concatenated(rows, axis: 0)
        let expected = g["processor.pixel_values"]
        assertClose(pixelValues, expected, tolerance: 1e-5, "pixel_values")
        print("Qwen2VLImageProcessor pixel_values: max abs error \(maxAbsDifference(pixelValues, expected))")
        XCTAssertEqual(g.ints("processor.grid_thw"), [1, 8, 8, 1, 4, 6])
    }

    func testLayoutMatchesTransformersWindowIndex() throws {
        let g = try golden()
        let layout = Qwen2VLVisionLayout(grids: imageGrids, config: g.config)
        XCTAssertEqual(layout.windowIndex, g.ints("layout.window_index"))
        XCTAssertEqual(layout.cuWindowSeqlens, g.ints("layout.cu_window_seqlens"))
        XCTAssertEqual(layout.cuSeqlens, g.ints("layout.cu_seqlens"))
        XCTAssertEqual(layout.cuWindowSeqlens.count - 1, 6, "several windows, whole and partial")
        // Attention runs as padded batches: 6 windows of up to 2 × 2 merged tokens (16 patches), 2 images.
        let windows = Qwen2VLVisionLayout.runs(layout.windowSegments)
        XCTAssertEqual([windows.count, windows.length], [6, 16])
        XCTAssert(windows.isPadded)
        let images = Qwen2VLVisionLayout.runs(layout.fullSegments)
        XCTAssertEqual([images.count, images.length], [2, 64])
        let one = Qwen2VLVisionLayout.runs(Qwen2VLVisionLayout(grids: [(1, 8, 8)], config: g.config).fullSegments)
        XCTAssertEqual([one.count, one.length], [1, 64])
        XCTAssertFalse(one.isPadded)
        // The first merged token's 4 patches (rows 0-1, columns 0-1) come first, in raster order.
        XCTAssertEqual(layout.positions[0..<5].map { [$0.h, $0.w] }, [[0, 0], [0, 1], [1, 0], [1, 1], [0, 2]])
    }

    func testMergedTokensMatchTransformers() throws {
        let g = try golden()
        let model = try model(g)
        let out = model(g["processor.pixel_values"], grids: imageGrids)
        for (name, value) in [("merged", out.merged), ("last_hidden_state", out.lastHiddenState)] {
            let expected = g["output.\(name)"]
            let scale = expected.abs().max().item(Float.self)
            assertClose(value, expected, tolerance: 1e-4, name)
            print("Qwen2VLVision \(name): max abs error \(maxAbsDifference(value, expected)), scale \(scale)")
        }
        // Two frames: full attention stays within each frame.
        let video = model(g["input.video_pixel_values"], grids: [(2, 4, 4)]).merged
        let expected = g["output.video_merged"]
        let scale = expected.abs().max().item(Float.self)
        assertClose(video, expected, tolerance: 1e-4, "video merged")
        print("Qwen2VLVision video merged: max abs error \(maxAbsDifference(video, expected)), scale \(scale)")
    }

    /// The windows matter: with every block attending over the whole image the result moves away from
    /// transformers', and so it does with every block windowed.
    func testWindowsAndFullAttentionBlocksBothMatter() throws {
        let g = try golden()
        let expected = g["output.merged"]
        for full in [[0, 1, 2], [Int]()] {
            var config = g.config
            config.fullattBlockIndexes = full
            let model = Qwen2VLVisionTransformer(config)
            try model.load(g.params)
            let merged = model(g["processor.pixel_values"], grids: imageGrids).merged
            XCTAssertGreaterThan(maxAbsDifference(merged, expected), 1e-2, "full attention in \(full)")
        }
    }

    func testLoadFromTextEncoderFolderAndClearErrors() throws {
        let g = try golden()
        let folder = try temporaryDirectory(self)
        let config = #"{"model_type": "qwen2_5_vl", "vision_config": \#(g.configJSON)}"#
        try Data(config.utf8).write(to: folder.appendingPathComponent("config.json"))
        // The tower's tensors under visual., next to a language model's, in bfloat16 as the checkpoint ships.
        var tensors = Dictionary(
            uniqueKeysWithValues: g.params.map { ("visual." + $0.key, $0.value.asType(.bfloat16)) })
        tensors["model.embed_tokens.weight"] = Tensor.zeros([4, 8], dtype: .bfloat16)
        try SafeTensors.save(tensors, to: folder.appendingPathComponent("model.safetensors"))
        let model = try Qwen2VLVisionTransformer.load(from: folder, dtype: .float32)
        XCTAssertEqual(model.config, g.config)
        XCTAssertEqual(model.blocks[0].attn.qkv.weight.dtype, .float32)
        let merged = model(g["processor.pixel_values"], grids: imageGrids).merged
        assertClose(merged, g["output.merged"], tolerance: 0.05, "bfloat16 weights")

        tensors["visual.blocks.2.mlp.up_proj.bias"] = nil
        try SafeTensors.save(tensors, to: folder.appendingPathComponent("model.safetensors"))
        XCTAssertThrowsError(try Qwen2VLVisionTransformer.load(from: folder)) { error in
            XCTAssert("\(error)".contains("missing keys (1): blocks.2.mlp.up_proj.bias"), "\(error)")
        }
        let bad = #"{"vision_config": {"hidden_size": 30, "num_heads": 4, "depth": 2, "fullatt_block_indexes": [2]}}"#
        try Data(bad.utf8).write(to: folder.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try Qwen2VLVisionTransformer.load(from: folder)) { error in
            let message = "\(error)"
            XCTAssert(message.contains(folder.appendingPathComponent("config.json").path), message)
            XCTAssert(message.contains("vision_config.hidden_size: expected a multiple of num_heads 4"), message)
            XCTAssert(message.contains("vision_config.fullatt_block_indexes"), message)
        }
    }
}
