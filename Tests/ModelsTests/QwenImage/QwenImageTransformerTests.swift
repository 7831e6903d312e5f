import Checkpoints
import Engine
import Foundation
import Models
import NN
import TestSupport
import XCTest

/// Parity with diffusers' QwenImageTransformer2DModel on a tiny random config
/// (tools/goldens/qwen_image_transformer.py).
final class QwenImageTransformerTests: XCTestCase {
    private struct Golden {
        let config: QwenImageTransformer2DConfig
        let configJSON: String
        /// float32 (the fixture stores the float16-exact weights as float16).
        let params: [String: Tensor]
        let tensors: [String: Tensor]
        subscript(_ key: String) -> Tensor { tensors[key]! }

        func imageShapes(_ name: String) -> [QwenEmbedRope.ImageShape] {
            let s = self["\(name).img_shapes"]
            let values = s.asType(.float32).toArray(Float.self).map { Int($0) }
            return (0..<s.dim(0)).map { (values[3 * $0], values[3 * $0 + 1], values[3 * $0 + 2]) }
        }
    }

    private func golden() throws -> Golden {
        let file = try SafeTensorsFile(url: Fixture.url("qwen_image_transformer.safetensors"))
        let json = file.metadata["config"]!
        let all = try file.tensors()
        var params: [String: Tensor] = [:]
        for (k, v) in all where k.hasPrefix("param.") { params[String(k.dropFirst(6))] = v.asType(.float32) }
        return Golden(
            config: try JSONDecoder().decode(QwenImageTransformer2DConfig.self, from: Data(json.utf8)),
            configJSON: json, params: params, tensors: all)
    }

    private func loaded(_ g: Golden) throws -> QwenImageTransformer2DModel {
        let model = QwenImageTransformer2DModel(g.config)
        // Strict: every diffusers key has a Swift parameter and the other way round, shapes equal.
        try model.load(g.params)
        return model
    }

    private func forward(
        _ model: QwenImageTransformer2DModel, _ g: Golden, _ name: String, masked: Bool = true
    ) -> Tensor {
        let hidden = g["\(name).input.hidden_states"]
        return model(
            hiddenStates: hidden, encoderHiddenStates: g["\(name).input.encoder_hidden_states"],
            encoderHiddenStatesMask: masked ? g["\(name).input.encoder_hidden_states_mask"] : nil,
            timestep: g["\(name).input.timestep"],
            imageShapes: Array(repeating: g.imageShapes(name), count: hidden.dim(0)))
    }

    /// Text-to-image (one 4×6 token grid) and Edit (a 4×4 and a 3×6 grid joined), batch 2 with different timesteps
    /// and a text mask with padding in one row; within 1e-4 of the output's scale. Without the mask the outputs move
    /// far past that, so the padding handling is what is being compared.
    func testForwardMatchesDiffusers() throws {
        let g = try golden()
        let model = try loaded(g)
        XCTAssertEqual(model.parameterCount(), g.params.values.reduce(0) { $0 + $1.count })
        for name in ["image", "edit"] {
            let out = forward(model, g, name), expected = g["\(name).output.sample"]
            let scale = expected.abs().max().item(Float.self), error = maxAbsDifference(out, expected)
            XCTAssertEqual(out.shape, [2, g["\(name).input.hidden_states"].dim(1), 16], name)
            XCTAssertLessThanOrEqual(error, 1e-4 * scale, name)
            print("Qwen-Image transformer parity (\(name)): max abs error \(error), output scale \(scale)")
            let unmasked = maxAbsDifference(forward(model, g, name, masked: false), expected)
            XCTAssertGreaterThan(unmasked, 1e-2 * scale, "\(name): the mask should matter")
        }
    }

    /// The gradients GRPO trains with: d mean(sample²) for a parameter of each kind (input projections, text
    /// RMSNorm, timestep MLP, both streams' modulation, q/k norms, added projections, MLPs, output norm and
    /// projection) against PyTorch's autograd in float64.
    func testGradientsMatchDiffusers() throws {
        let g = try golden()
        let model = try loaded(g)
        let (_, grads) = valueAndGrad(model: model) { [self.forward(model, g, "image").square().mean()] }
        let expected = g.tensors.filter { $0.key.hasPrefix("image.grad.") }
        XCTAssertEqual(expected.count, 15)
        for (name, reference) in expected {
            let key = String(name.dropFirst("image.grad.".count))
            let grad = try XCTUnwrap(grads[key], key)
            // Relative to each gradient's own scale.
            let scale = reference.abs().max().item(Float.self), error = maxAbsDifference(grad, reference)
            XCTAssertEqual(grad.shape, reference.shape, key)
            XCTAssertGreaterThan(scale, 0, key)
            XCTAssertLessThanOrEqual(error, 1e-4 * scale, key)
            print("Qwen-Image transformer gradient \(key): max abs error \(error), scale \(scale)")
        }
    }

    func testGradientCheckpointingKeepsOutputsAndGradients() throws {
        let g = try golden()
        let model = try loaded(g)
        XCTAssertEqual(model.checkpointedBlocks.count, 2)
        func lossAndGrads() -> (Float, [String: Tensor]) {
            let (values, grads) = valueAndGrad(model: model) { [self.forward(model, g, "edit").square().mean()] }
            return (values[0].item(Float.self), grads)
        }
        let (plainLoss, plainGrads) = lossAndGrads()
        model.gradientCheckpointing = true
        let (checkpointedLoss, checkpointedGrads) = lossAndGrads()
        XCTAssertEqual(plainLoss, checkpointedLoss, accuracy: 1e-6)
        XCTAssertEqual(Set(plainGrads.keys), Set(checkpointedGrads.keys))
        for key in [
            "transformer_blocks.0.attn.to_q.weight", "transformer_blocks.1.img_mod.1.weight", "img_in.weight",
            "transformer_blocks.0.txt_mlp.net.2.weight", "time_text_embed.timestep_embedder.linear_1.weight"
        ] {
            XCTAssertGreaterThan(plainGrads[key]!.abs().max().item(Float.self), 0, key)
            assertClose(checkpointedGrads[key]!, plainGrads[key]!, tolerance: 1e-5, key)
        }
    }

    /// `_pack_latents` on 5-D latents, its inverse, and the rotary positions with `scale_rope` (centred grids, an
    /// odd height, the Edit image's frame index, text after the largest half-size).
    func testPackingAndRotaryPositions() throws {
        let g = try golden()
        let latents = g["pack.latents"]
        let packed = QwenImageLatents.pack(latents)
        assertClose(packed, g["pack.packed"], tolerance: 0)
        assertClose(QwenImageLatents.unpack(packed, height: 8, width: 12), latents, tolerance: 0)
        XCTAssert(QwenImageLatents.imageShape(height: 8, width: 12) == (1, 4, 6))
        XCTAssert(QwenImageLatents.latentSize(imageHeight: 1328, imageWidth: 1000) == (166, 124))

        let rope = QwenEmbedRope(axesDims: [4, 6, 6])
        let (image, text) = rope.positions(imageShapes: [(1, 4, 4), (1, 3, 6)], textLength: 2)
        XCTAssertEqual(image.count, 16 + 18)
        XCTAssertEqual(image[0], [0, -2, -2])
        XCTAssertEqual(image[15], [0, 1, 1])
        XCTAssertEqual(image[16], [1, -2, -3])
        XCTAssertEqual(image[33], [1, 0, 2])
        XCTAssertEqual(text, [[3, 3, 3], [4, 4, 4]])
    }

    /// The rotary tables at realistic sizes (a 50×70 and a 33×21 token grid, 300 text tokens, so text positions
    /// reach 334) against diffusers' `QwenEmbedRope`, on every 37th row of the joint sequence.
    func testRotaryTablesMatchDiffusersAtRealisticSizes() throws {
        let g = try golden()
        func ints(_ key: String) -> [Int] { g[key].asType(.float32).toArray(Float.self).map { Int($0) } }
        let dims = ints("rope.img_shapes")
        let shapes: [QwenEmbedRope.ImageShape] = (0..<(dims.count / 3)).map { i in
            (frames: dims[3 * i], height: dims[3 * i + 1], width: dims[3 * i + 2])
        }
        let rope = QwenEmbedRope(axesDims: g.config.axesDimsRope)
        guard
            case .tables(let cos, let sin, .interleaved) = rope(
                imageShapes: shapes, textLength: ints("rope.text_length")[0])
        else { return XCTFail("expected interleaved tables") }
        XCTAssertEqual(cos.dim(0), 300 + 50 * 70 + 33 * 21)
        let rows = Tensor(ints("rope.rows").map(Int32.init), shape: [g["rope.rows"].dim(0)])
        for (name, table) in [("cos", cos), ("sin", sin)] {
            let error = maxAbsDifference(table.take(rows, axis: 0), g["rope.\(name)"])
            XCTAssertLessThanOrEqual(error, 1e-5, name)
            print("Qwen-Image rotary \(name) table: max abs error \(error)")
        }
    }

    /// The released size (Qwen/Qwen-Image's config): every key and shape diffusers builds, so the downloaded
    /// checkpoint loads strictly. The model is built without evaluating its random weights.
    func testReleasedSizeHasDiffusersKeysAndShapes() throws {
        let data = try Data(contentsOf: Fixture.url("qwen_image_transformer_shapes.json"))
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let config = try JSONDecoder().decode(
            QwenImageTransformer2DConfig.self, from: JSONSerialization.data(withJSONObject: object["config"]!))
        XCTAssertEqual(config.problems(), [])
        let expected = try XCTUnwrap(object["shapes"] as? [String: [Int]])
        let shapes = QwenImageTransformer2DModel(config).checkpointTensors().mapValues(\.shape)
        XCTAssertEqual(shapes.count, object["key_count"] as? Int)
        for (key, shape) in shapes {
            // Every block has block 0's keys and shapes.
            var parts = key.split(separator: ".", omittingEmptySubsequences: false)
            if parts.first == "transformer_blocks" { parts[1] = "0" }
            let reference = parts.joined(separator: ".")
            XCTAssertEqual(shape, expected[reference], key)
        }
        XCTAssertEqual(Set(expected.keys).subtracting(shapes.keys), [])
    }

    /// A diffusers `transformer/` folder: config.json and the weights, in one file, in shards with an index, and in
    /// bfloat16.
    func testLoadsDiffusersFolder() throws {
        let g = try golden()
        let expected = g["image.output.sample"]
        let scale = expected.abs().max().item(Float.self)
        let single = try temporaryDirectory(self)
        try Data(g.configJSON.utf8).write(to: single.appendingPathComponent("config.json"))
        try SafeTensors.save(g.params, to: single.appendingPathComponent("diffusion_pytorch_model.safetensors"))
        let fromSingle = try QwenImageTransformer2DModel.load(from: single)
        XCTAssertEqual(fromSingle.config, g.config)
        XCTAssertLessThanOrEqual(maxAbsDifference(forward(fromSingle, g, "image"), expected), 1e-4 * scale)

        let sharded = try temporaryDirectory(self)
        try Data(g.configJSON.utf8).write(to: sharded.appendingPathComponent("config.json"))
        try SafeTensorsCheckpoint.save(g.params, to: sharded, name: "diffusion_pytorch_model", maxShardBytes: 64 << 10)
        let files = try FileManager.default.contentsOfDirectory(atPath: sharded.path)
        XCTAssert(files.contains("diffusion_pytorch_model.safetensors.index.json"), "\(files)")
        XCTAssertGreaterThan(files.filter { $0.hasSuffix(".safetensors") }.count, 1, "\(files)")
        let fromShards = try QwenImageTransformer2DModel.load(from: sharded)
        XCTAssertLessThanOrEqual(maxAbsDifference(forward(fromShards, g, "image"), expected), 1e-4 * scale)

        let half = try temporaryDirectory(self)
        try Data(g.configJSON.utf8).write(to: half.appendingPathComponent("config.json"))
        try SafeTensors.save(
            g.params.mapValues { $0.asType(.bfloat16) },
            to: half.appendingPathComponent("diffusion_pytorch_model.safetensors"))
        XCTAssertEqual(try QwenImageTransformer2DModel.load(from: half).imageIn.weight.dtype, .bfloat16)
        let bf16 = try QwenImageTransformer2DModel.load(from: half, dtype: .bfloat16)
        XCTAssertEqual(Set(bf16.parameters().values.map(\.dtype)), [.bfloat16])
        let out = bf16(
            hiddenStates: g["image.input.hidden_states"].asType(.bfloat16),
            encoderHiddenStates: g["image.input.encoder_hidden_states"].asType(.bfloat16),
            encoderHiddenStatesMask: g["image.input.encoder_hidden_states_mask"], timestep: g["image.input.timestep"],
            imageShapes: [g.imageShapes("image"), g.imageShapes("image")])
        XCTAssertEqual(out.dtype, .bfloat16)
        let error = maxAbsDifference(out, expected)
        XCTAssertLessThan(error, 0.1 * scale, "bfloat16")
        print("Qwen-Image transformer in bfloat16: max abs error \(error), output scale \(scale)")
    }

    /// A missing tensor and a wrong shape are reported by key; bad config values name the file and the key; the
    /// released Qwen-Image config reads.
    func testLoadErrorsNameTheKey() throws {
        let g = try golden()
        var incomplete = g.params
        incomplete["transformer_blocks.1.attn.norm_added_q.weight"] = nil
        XCTAssertThrowsError(try QwenImageTransformer2DModel(g.config).load(incomplete)) {
            XCTAssert("\($0)".contains("missing keys (1): transformer_blocks.1.attn.norm_added_q.weight"), "\($0)")
        }
        var misshapen = g.params
        misshapen["transformer_blocks.0.img_mod.1.weight"] = Tensor.zeros([32, 32])
        XCTAssertThrowsError(try QwenImageTransformer2DModel(g.config).load(misshapen)) {
            XCTAssert(
                "\($0)".contains("transformer_blocks.0.img_mod.1.weight: expected [192, 32], found [32, 32]"), "\($0)")
        }

        let folder = try temporaryDirectory(self)
        let file = folder.appendingPathComponent("config.json")
        try Data(
            #"{"attention_head_dim": 16, "axes_dims_rope": [4, 6, 5], "patch_size": 1, "zero_cond_t": true}"#.utf8
        ).write(to: file)
        XCTAssertThrowsError(try QwenImageTransformer2DModel.load(from: folder)) {
            let message = "\($0)"
            XCTAssert(message.contains(file.path), message)
            for key in ["axes_dims_rope[2]", "axes_dims_rope", "patch_size", "zero_cond_t"] {
                XCTAssert(message.contains("\(key):"), "\(key) not named in: \(message)")
            }
        }
        // Qwen/Qwen-Image's transformer/config.json.
        try Data(
            #"""
            {"_class_name": "QwenImageTransformer2DModel", "_diffusers_version": "0.34.0.dev0", \#
            "attention_head_dim": 128, "axes_dims_rope": [16, 56, 56], "guidance_embeds": false, "in_channels": 64, \#
            "joint_attention_dim": 3584, "num_attention_heads": 24, "num_layers": 60, "out_channels": 16, \#
            "patch_size": 2, "pooled_projection_dim": 768}
            """#.utf8
        ).write(to: file)
        let config = try QwenImageTransformer2DConfig.load(folder)
        XCTAssertEqual(config.innerDim, 3072)
        XCTAssertEqual(config.outputChannels, 16)
        XCTAssertEqual(config.numLayers, 60)
    }
}
