import Checkpoints
import Engine
import Foundation
import Models
import NN
import TestSupport
import XCTest

/// Parity with diffusers' WanTransformer3DModel on tiny random configs (tools/goldens/wan_transformer.py).
final class WanTransformerTests: XCTestCase {
    private struct Golden {
        let config: WanTransformer3DConfig
        let configJSON: String
        let params: [String: Tensor]
        let tensors: [String: Tensor]
        subscript(_ key: String) -> Tensor { tensors[key]! }
    }

    private func golden(_ name: String) throws -> Golden {
        let file = try SafeTensorsFile(url: Fixture.url(name))
        let json = file.metadata["config"]!
        let all = try file.tensors()
        var params: [String: Tensor] = [:]
        for (k, v) in all where k.hasPrefix("param.") { params[String(k.dropFirst(6))] = v }
        return Golden(
            config: try JSONDecoder().decode(WanTransformer3DConfig.self, from: Data(json.utf8)), configJSON: json,
            params: params, tensors: all)
    }

    private func loaded(_ g: Golden) throws -> WanTransformer3DModel {
        let model = WanTransformer3DModel(g.config)
        // Strict: every diffusers key has a Swift parameter and the other way round, shapes equal.
        try model.load(g.params)
        return model
    }

    private func forward(_ model: WanTransformer3DModel, _ g: Golden, _ name: String) -> Tensor {
        model(
            hiddenStates: g["\(name).input.hidden_states"], timestep: g["\(name).input.timestep"],
            encoderHiddenStates: g["\(name).input.encoder_hidden_states"],
            encoderHiddenStatesImage: g.tensors["\(name).input.encoder_hidden_states_image"])
    }

    /// One frame (the seed's image setting) and three frames with H ≠ W, batch 2 with different timesteps, text
    /// lengths 7 and 5.
    func testForwardMatchesDiffusers() throws {
        let g = try golden("wan_transformer.safetensors")
        XCTAssertEqual(g.config.rotaryAxesDims, [4, 4, 4])
        let model = try loaded(g)
        XCTAssertEqual(model.parameterCount(), g.params.values.reduce(0) { $0 + $1.count })
        for name in ["image", "video"] {
            let out = forward(model, g, name), expected = g["\(name).output.sample"]
            XCTAssertEqual(out.shape, g["\(name).input.hidden_states"].shape, name)
            assertClose(out, expected, tolerance: 1e-4, name)
            print("Wan transformer parity (\(name)): max abs error \(maxAbsDifference(out, expected))")
        }
    }

    /// The gradients GRPO trains with: d mean(sample²) for a parameter of each kind (patch embedding, time and text
    /// MLPs, across-heads norm, self- and cross-attention, affine norm, MLP, modulation tables, output projection)
    /// against PyTorch's autograd in float64.
    func testGradientsMatchDiffusers() throws {
        let g = try golden("wan_transformer.safetensors")
        let model = try loaded(g)
        let (_, grads) = valueAndGrad(model: model) { [self.forward(model, g, "video").square().mean()] }
        let expected = g.tensors.filter { $0.key.hasPrefix("video.grad.") }
        XCTAssertEqual(expected.count, 11)
        for (name, reference) in expected {
            let key = String(name.dropFirst("video.grad.".count))
            // The convolution keeps its weight channels-last: [D, t, h, w, C] → diffusers' [D, C, t, h, w].
            let grad = key == "patch_embedding.weight" ? grads[key]!.transposed([0, 4, 1, 2, 3]) : grads[key]!
            // Relative to each gradient's own scale (all below 1 here, where assertClose would allow 1e-4 absolute).
            let scale = reference.abs().max().item(Float.self), error = maxAbsDifference(grad, reference)
            XCTAssertEqual(grad.shape, reference.shape, key)
            XCTAssertGreaterThan(scale, 0, key)
            XCTAssertLessThanOrEqual(error, 1e-4 * scale, key)
            print("Wan transformer gradient \(key): max abs error \(error), scale \(scale)")
        }
    }

    /// Image-to-video (image embedder, added k/v in every cross-attention; batch 2 with different timesteps) and
    /// first-last-frame (the image embedder's position embedding over two images' tokens, no cross-attention norm).
    func testImageConditionedVariantsMatchDiffusers() throws {
        for name in ["wan_transformer_i2v.safetensors", "wan_transformer_flf2v.safetensors"] {
            let g = try golden(name)
            XCTAssertNotNil(g.config.imageDim, name)
            let model = try loaded(g)
            XCTAssertEqual(model.parameterCount(), g.params.values.reduce(0) { $0 + $1.count }, name)
            let out = forward(model, g, "video"), expected = g["video.output.sample"]
            assertClose(out, expected, tolerance: 1e-4, name)
            print("Wan transformer parity (\(name)): max abs error \(maxAbsDifference(out, expected))")
        }
    }

    /// An I2V folder as older diffusers wrote it, with the image attention's unused `norm_added_q`: skipped on
    /// load as diffusers skips it; any other extra tensor still fails.
    func testImageToVideoFolderSkipsUnusedQueryNorm() throws {
        let g = try golden("wan_transformer_i2v.safetensors")
        let folder = try temporaryDirectory(self)
        try Data(g.configJSON.utf8).write(to: folder.appendingPathComponent("config.json"))
        let weights = folder.appendingPathComponent("diffusion_pytorch_model.safetensors")
        var params = g.params
        params["blocks.0.attn2.norm_added_q.weight"] = Tensor.ones([g.config.innerDim])
        try SafeTensors.save(params, to: weights)
        assertClose(
            forward(try WanTransformer3DModel.load(from: folder), g, "video"), g["video.output.sample"],
            tolerance: 1e-4)
        params["blocks.0.attn2.add_q_proj.weight"] = Tensor.ones([g.config.innerDim, g.config.innerDim])
        try SafeTensors.save(params, to: weights)
        XCTAssertThrowsError(try WanTransformer3DModel.load(from: folder)) {
            XCTAssert("\($0)".contains("unexpected keys (1): blocks.0.attn2.add_q_proj.weight"), "\($0)")
        }
    }

    func testGradientCheckpointingKeepsOutputsAndGradients() throws {
        for (name, keys) in [
            (
                "wan_transformer.safetensors",
                [
                    "blocks.0.attn1.to_q.weight", "blocks.1.attn2.norm_k.weight", "blocks.1.scale_shift_table",
                    "patch_embedding.weight", "condition_embedder.time_proj.weight"
                ]
            ),
            (
                "wan_transformer_i2v.safetensors",
                ["blocks.0.attn2.add_k_proj.weight", "condition_embedder.image_embedder.ff.net.0.proj.weight"]
            )
        ] {
            let g = try golden(name)
            let model = try loaded(g)
            XCTAssertEqual(model.checkpointedBlocks.count, g.config.numLayers)
            func lossAndGrads() -> (Float, [String: Tensor]) {
                let (values, grads) = valueAndGrad(model: model) { [self.forward(model, g, "video").square().mean()] }
                return (values[0].item(Float.self), grads)
            }
            let (plainLoss, plainGrads) = lossAndGrads()
            model.gradientCheckpointing = true
            let (checkpointedLoss, checkpointedGrads) = lossAndGrads()
            XCTAssertEqual(plainLoss, checkpointedLoss, accuracy: 1e-6, name)
            XCTAssertEqual(Set(plainGrads.keys), Set(model.parameters().keys), name)
            XCTAssertEqual(Set(plainGrads.keys), Set(checkpointedGrads.keys), name)
            for key in keys {
                XCTAssertGreaterThan(plainGrads[key]!.abs().max().item(Float.self), 0, "\(name) \(key)")
                assertClose(checkpointedGrads[key]!, plainGrads[key]!, tolerance: 1e-5, "\(name) \(key)")
            }
        }
    }

    /// A diffusers `transformer/` folder: config.json and the weights, in one file, in shards with an index, and in
    /// bfloat16.
    func testLoadsDiffusersFolder() throws {
        let g = try golden("wan_transformer.safetensors")
        let expected = g["video.output.sample"]
        let single = try temporaryDirectory(self)
        try Data(g.configJSON.utf8).write(to: single.appendingPathComponent("config.json"))
        try SafeTensors.save(g.params, to: single.appendingPathComponent("diffusion_pytorch_model.safetensors"))
        assertClose(forward(try WanTransformer3DModel.load(from: single), g, "video"), expected, tolerance: 1e-4)

        let sharded = try temporaryDirectory(self)
        try Data(g.configJSON.utf8).write(to: sharded.appendingPathComponent("config.json"))
        try SafeTensorsCheckpoint.save(
            g.params, to: sharded, name: "diffusion_pytorch_model", maxShardBytes: 32 << 10)
        let files = try FileManager.default.contentsOfDirectory(atPath: sharded.path)
        XCTAssert(files.contains("diffusion_pytorch_model.safetensors.index.json"), "\(files)")
        XCTAssertGreaterThan(files.filter { $0.hasSuffix(".safetensors") }.count, 1, "\(files)")
        assertClose(forward(try WanTransformer3DModel.load(from: sharded), g, "video"), expected, tolerance: 1e-4)

        // Written back as diffusers' folder (the patch embedding's weight in PyTorch's layout again), it reloads.
        let model = try loaded(g)
        assertClose(
            model.checkpointTensors()["patch_embedding.weight"]!, g.params["patch_embedding.weight"]!, tolerance: 0)
        let written = try temporaryDirectory(self)
        try model.writePretrainedFolder(written, config: g.config, className: "WanTransformer3DModel")
        let reloaded = try WanTransformer3DModel.load(from: written)
        XCTAssertEqual(reloaded.config, g.config)
        assertClose(forward(reloaded, g, "video"), expected, tolerance: 1e-4)

        let half = try temporaryDirectory(self)
        try Data(g.configJSON.utf8).write(to: half.appendingPathComponent("config.json"))
        try SafeTensors.save(
            g.params.mapValues { $0.asType(.bfloat16) },
            to: half.appendingPathComponent("diffusion_pytorch_model.safetensors"))
        // No dtype keeps the file's bfloat16; asking for bfloat16 converts all but diffusers' float32 modules.
        let asStored = try WanTransformer3DModel.load(from: half)
        XCTAssertEqual(asStored.patchEmbedding.weight.dtype, .bfloat16)
        let bf16 = try WanTransformer3DModel.load(from: half, dtype: .bfloat16)
        let dtypes = bf16.parameters().mapValues(\.dtype)
        for key in [
            "blocks.0.scale_shift_table", "scale_shift_table", "blocks.1.norm2.weight",
            "condition_embedder.time_embedder.linear_2.bias"
        ] {
            XCTAssertEqual(dtypes[key], .float32, "\(key) stays float32 as in diffusers")
        }
        XCTAssertEqual(dtypes.values.filter { $0 == .float32 }.count, 3 + 2 * 2 + 4, "3 tables, 2 norm2s, the time MLP")
        XCTAssertEqual(dtypes["blocks.0.attn1.to_q.weight"], .bfloat16)
        let out = bf16(
            hiddenStates: g["video.input.hidden_states"].asType(.bfloat16), timestep: g["video.input.timestep"],
            encoderHiddenStates: g["video.input.encoder_hidden_states"].asType(.bfloat16))
        XCTAssertEqual(out.dtype, .bfloat16)
        let error = maxAbsDifference(out, expected)
        XCTAssertLessThan(error, 0.1, "bfloat16")
        print(
            "Wan transformer in bfloat16: max abs error \(error), output scale \(expected.abs().max().item(Float.self))"
        )
    }

    /// The released sizes (Wan2.1-T2V-1.3B's config and the I2V-14B layout): every key and shape diffusers builds,
    /// so a downloaded checkpoint loads strictly. The model is built without evaluating its random weights.
    func testReleasedSizesHaveDiffusersKeysAndShapes() throws {
        let data = try Data(contentsOf: Fixture.url("wan_transformer_shapes.json"))
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]])
        XCTAssertEqual(Set(object.keys), ["t2v_1_3b", "i2v_14b"])
        for (name, entry) in object {
            let config = try JSONDecoder().decode(
                WanTransformer3DConfig.self, from: JSONSerialization.data(withJSONObject: entry["config"]!))
            XCTAssertEqual(config.problems(), [], name)
            let expected = try XCTUnwrap(entry["shapes"] as? [String: [Int]], name)
            let shapes = WanTransformer3DModel(config).checkpointTensors().mapValues(\.shape)
            XCTAssertEqual(Set(shapes.keys).symmetricDifference(expected.keys), [], name)
            for (key, shape) in expected where shapes[key] != shape {
                XCTFail("\(name) \(key): \(shapes[key] ?? []) ≠ diffusers' \(shape)")
            }
        }
    }

    /// A missing tensor and a wrong shape are reported by key; bad config values name the file and the key.
    func testLoadErrorsNameTheKey() throws {
        let g = try golden("wan_transformer.safetensors")
        var incomplete = g.params
        incomplete["blocks.1.attn2.norm_k.weight"] = nil
        XCTAssertThrowsError(try WanTransformer3DModel(g.config).load(incomplete)) {
            XCTAssert("\($0)".contains("missing keys (1): blocks.1.attn2.norm_k.weight"), "\($0)")
        }
        var misshapen = g.params
        misshapen["patch_embedding.weight"] = Tensor.zeros([24, 4, 2, 2, 2])
        XCTAssertThrowsError(try WanTransformer3DModel(g.config).load(misshapen)) {
            XCTAssert(
                "\($0)".contains("patch_embedding.weight: expected [24, 4, 1, 2, 2], found [24, 4, 2, 2, 2]"), "\($0)")
        }
        // A T2V model given an I2V checkpoint: the image keys are unexpected.
        let i2v = try golden("wan_transformer_i2v.safetensors")
        var t2vConfig = i2v.config
        (t2vConfig.imageDim, t2vConfig.addedKVProjDim) = (nil, nil)
        XCTAssertThrowsError(try WanTransformer3DModel(t2vConfig).load(i2v.params)) {
            XCTAssert("\($0)".contains("blocks.0.attn2.add_k_proj.bias"), "\($0)")
        }

        let folder = try temporaryDirectory(self)
        let file = folder.appendingPathComponent("config.json")
        try Data(
            #"{"attention_head_dim": 7, "patch_size": [2, 2], "qk_norm": "rms_norm", "added_kv_proj_dim": 280}"#.utf8
        ).write(to: file)
        XCTAssertThrowsError(try WanTransformer3DConfig.load(folder)) {
            let message = "\($0)"
            XCTAssert(message.contains(file.path), message)
            for key in ["attention_head_dim", "patch_size", "qk_norm", "image_dim"] {
                XCTAssert(message.contains("\(key):"), "\(key) not named in: \(message)")
            }
        }
        // Wan2.1-T2V-1.3B's transformer/config.json.
        try Data(
            #"""
            {"_class_name": "WanTransformer3DModel", "_diffusers_version": "0.33.0.dev0", "added_kv_proj_dim": null, \#
            "attention_head_dim": 128, "cross_attn_norm": true, "eps": 1e-06, "ffn_dim": 8960, "freq_dim": 256, \#
            "image_dim": null, "in_channels": 16, "num_attention_heads": 12, "num_layers": 30, "out_channels": 16, \#
            "patch_size": [1, 2, 2], "qk_norm": "rms_norm_across_heads", "rope_max_seq_len": 1024, "text_dim": 4096}
            """#.utf8
        ).write(to: file)
        let config = try WanTransformer3DConfig.load(folder)
        XCTAssertEqual(config.innerDim, 1536)
        XCTAssertEqual(config.rotaryAxesDims, [44, 42, 42])
        XCTAssertEqual(config.ffnDim, 8960)
    }
}
