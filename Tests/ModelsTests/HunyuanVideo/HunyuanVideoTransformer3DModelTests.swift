import Checkpoints
import Engine
import Foundation
import Models
import NN
import TestSupport
import XCTest

/// Parity with diffusers' HunyuanVideoTransformer3DModel on a tiny random config
/// (tools/goldens/hunyuan_video_transformer.py).
final class HunyuanVideoTransformer3DModelTests: XCTestCase {
    private struct Golden {
        let config: HunyuanVideoTransformer3DConfig
        let configJSON: String
        let params: [String: Tensor]
        let tensors: [String: Tensor]
        subscript(_ key: String) -> Tensor { tensors[key]! }
    }

    private func golden(_ name: String = "hunyuan_video_transformer.safetensors") throws -> Golden {
        let file = try SafeTensorsFile(url: Fixture.url(name))
        let json = file.metadata["config"]!
        let all = try file.tensors()
        var params: [String: Tensor] = [:]
        for (k, v) in all where k.hasPrefix("param.") { params[String(k.dropFirst(6))] = v }
        return Golden(
            config: try JSONDecoder().decode(HunyuanVideoTransformer3DConfig.self, from: Data(json.utf8)),
            configJSON: json, params: params, tensors: all)
    }

    private func loaded(_ g: Golden) throws -> HunyuanVideoTransformer3DModel {
        let model = HunyuanVideoTransformer3DModel(g.config)
        // Strict: every diffusers key has a Swift parameter and the other way round, shapes equal.
        try model.load(g.params)
        return model
    }

    private func forward(
        _ model: HunyuanVideoTransformer3DModel, _ g: Golden, _ name: String, text: Tensor? = nil,
        dtype: DType = .float32
    ) -> Tensor {
        model(
            hiddenStates: g["\(name).input.hidden_states"].asType(dtype), timestep: g["\(name).input.timestep"],
            encoderHiddenStates: (text ?? g["\(name).input.encoder_hidden_states"]).asType(dtype),
            encoderAttentionMask: g["\(name).input.encoder_attention_mask"],
            pooledProjections: g["\(name).input.pooled_projections"].asType(dtype),
            guidance: g["\(name).input.guidance"])
    }

    /// One frame and three frames with H ≠ W, batch 2 with different timesteps and guidance, text masks with
    /// different valid lengths per sample, in_channels ≠ out_channels.
    func testForwardMatchesDiffusers() throws {
        let g = try golden()
        XCTAssertEqual(g.config.ropeAxesDim, [2, 4, 4])
        XCTAssertEqual(g.config.mlpDim, 40)
        let model = try loaded(g)
        XCTAssertEqual(model.parameterCount(), g.params.values.reduce(0) { $0 + $1.count })
        for name in ["image", "video"] {
            let out = forward(model, g, name), expected = g["\(name).output.sample"]
            XCTAssertEqual(out.shape, [2, 4] + Array(g["\(name).input.hidden_states"].shape.dropFirst(2)), name)
            let scale = expected.abs().max().item(Float.self), error = maxAbsDifference(out, expected)
            XCTAssertLessThanOrEqual(error, 1e-4 * scale, name)
            print("HunyuanVideo transformer parity (\(name)): max abs error \(error), output scale \(scale)")
        }
    }

    /// The padded text tokens take no part: other values there give the same output, while the same change to an
    /// unpadded token changes it.
    func testPaddedTextTokensAreMasked() throws {
        let g = try golden()
        let model = try loaded(g)
        let text = g["video.input.encoder_hidden_states"], mask = g["video.input.encoder_attention_mask"]
        XCTAssertEqual(mask.sum(axis: 1).toArray(Float.self), [6, 2])
        let noise = Random.normal(text.shape, key: RandomKey(seed: 3)) * 5
        let padded = (1 - mask).expandedDims(axis: -1)
        let expected = g["video.output.sample"]
        let changedPadding = forward(model, g, "video", text: text + noise * padded)
        XCTAssertLessThanOrEqual(
            maxAbsDifference(changedPadding, expected), 1e-4 * expected.abs().max().item(Float.self))
        let changedTokens = forward(model, g, "video", text: text + noise * (1 - padded))
        XCTAssertGreaterThan(maxAbsDifference(changedTokens, expected), 1e-2)
    }

    /// The gradients GRPO trains with: d mean(sample²) for a parameter of each kind (patch embedding, the refiner's
    /// conditioning, projection, norm, attention, MLP and gates, the guidance and pooled-text embedders, both
    /// attention streams' projections and norms, the single block's MLP and output, the output norm and projection)
    /// against PyTorch's autograd in float64.
    func testGradientsMatchDiffusers() throws {
        let g = try golden()
        let model = try loaded(g)
        let (_, grads) = valueAndGrad(model: model) { [self.forward(model, g, "video").square().mean()] }
        let expected = g.tensors.filter { $0.key.hasPrefix("video.grad.") }
        XCTAssertEqual(expected.count, 20)
        for (name, reference) in expected.sorted(by: { $0.key < $1.key }) {
            let key = String(name.dropFirst("video.grad.".count))
            // The convolution keeps its weight channels-last: [D, t, h, w, C] → diffusers' [D, C, t, h, w].
            let grad = key == "x_embedder.proj.weight" ? grads[key]!.transposed([0, 4, 1, 2, 3]) : grads[key]!
            let scale = reference.abs().max().item(Float.self), error = maxAbsDifference(grad, reference)
            XCTAssertEqual(grad.shape, reference.shape, key)
            XCTAssertGreaterThan(scale, 0, key)
            XCTAssertLessThanOrEqual(error, 1e-4 * scale, key)
            print("HunyuanVideo transformer gradient \(key): max abs error \(error), scale \(scale)")
        }
    }

    /// HunyuanVideo-I2V's token replacement: the first latent frame's tokens modulated by the conditioning of
    /// timestep 0 (the same weights), output and the gradients of the modulation weights and the time MLP.
    func testTokenReplaceMatchesDiffusers() throws {
        let g = try golden("hunyuan_video_transformer_token_replace.safetensors")
        XCTAssertEqual(g.config.imageConditionType, "token_replace")
        let model = try loaded(g)
        let expected = g["video.output.sample"], scale = expected.abs().max().item(Float.self)
        let (values, grads) = valueAndGrad(model: model) {
            let out = self.forward(model, g, "video")
            return [out.square().mean(), out]
        }
        let error = maxAbsDifference(values[1], expected)
        XCTAssertLessThanOrEqual(error, 1e-4 * scale)
        print("HunyuanVideo transformer parity (token_replace): max abs error \(error), output scale \(scale)")
        let references = g.tensors.filter { $0.key.hasPrefix("video.grad.") }
        XCTAssertEqual(references.count, 3)
        for (name, reference) in references.sorted(by: { $0.key < $1.key }) {
            let key = String(name.dropFirst("video.grad.".count))
            let gradScale = reference.abs().max().item(Float.self), gradError = maxAbsDifference(grads[key]!, reference)
            XCTAssertLessThanOrEqual(gradError, 1e-4 * gradScale, key)
            print("HunyuanVideo token_replace gradient \(key): max abs error \(gradError), scale \(gradScale)")
        }

        // The same weights without token replacement give another output: the first frame's modulation is used.
        var plain = g.config
        plain.imageConditionType = nil
        let plainModel = HunyuanVideoTransformer3DModel(plain)
        try plainModel.load(g.params)
        XCTAssertGreaterThan(maxAbsDifference(forward(plainModel, g, "video"), expected), 1e-2 * scale)

        // Checkpointed blocks get the first-frame conditioning too.
        model.gradientCheckpointing = true
        let (checkpointed, checkpointedGrads) = valueAndGrad(model: model) {
            [self.forward(model, g, "video").square().mean()]
        }
        XCTAssertEqual(checkpointed[0].item(Float.self), values[0].item(Float.self), accuracy: 1e-6)
        let key = "time_text_embed.timestep_embedder.linear_2.weight"
        assertClose(checkpointedGrads[key]!, grads[key]!, tolerance: 1e-6)
    }

    func testGradientCheckpointingKeepsOutputsAndGradients() throws {
        let g = try golden()
        let model = try loaded(g)
        XCTAssertEqual(model.checkpointedBlocks.count, g.config.numLayers + g.config.numSingleLayers)
        func lossAndGrads() -> (Float, [String: Tensor]) {
            let (values, grads) = valueAndGrad(model: model) { [self.forward(model, g, "video").square().mean()] }
            return (values[0].item(Float.self), grads)
        }
        let (plainLoss, plainGrads) = lossAndGrads()
        model.gradientCheckpointing = true
        let (checkpointedLoss, checkpointedGrads) = lossAndGrads()
        XCTAssertEqual(plainLoss, checkpointedLoss, accuracy: 1e-6)
        XCTAssertEqual(Set(plainGrads.keys), Set(model.parameters().keys))
        XCTAssertEqual(Set(plainGrads.keys), Set(checkpointedGrads.keys))
        for key in [
            "transformer_blocks.0.attn.add_k_proj.weight", "transformer_blocks.0.norm1.linear.weight",
            "single_transformer_blocks.0.attn.to_v.weight", "x_embedder.proj.weight",
            "context_embedder.proj_in.weight"
        ] {
            XCTAssertGreaterThan(plainGrads[key]!.abs().max().item(Float.self), 0, key)
            assertClose(checkpointedGrads[key]!, plainGrads[key]!, tolerance: 1e-5, key)
        }
    }

    /// A diffusers `transformer/` folder: config.json and the weights, in one file, in shards with an index, written
    /// back by the model, and in bfloat16.
    func testLoadsDiffusersFolder() throws {
        let g = try golden()
        let expected = g["video.output.sample"]
        let single = try temporaryDirectory(self)
        try Data(g.configJSON.utf8).write(to: single.appendingPathComponent("config.json"))
        try SafeTensors.save(g.params, to: single.appendingPathComponent("diffusion_pytorch_model.safetensors"))
        assertClose(
            forward(try HunyuanVideoTransformer3DModel.load(from: single), g, "video"), expected, tolerance: 1e-4)

        let sharded = try temporaryDirectory(self)
        try Data(g.configJSON.utf8).write(to: sharded.appendingPathComponent("config.json"))
        try SafeTensorsCheckpoint.save(g.params, to: sharded, name: "diffusion_pytorch_model", maxShardBytes: 32 << 10)
        let files = try FileManager.default.contentsOfDirectory(atPath: sharded.path)
        XCTAssert(files.contains("diffusion_pytorch_model.safetensors.index.json"), "\(files)")
        XCTAssertGreaterThan(files.filter { $0.hasSuffix(".safetensors") }.count, 1, "\(files)")
        assertClose(
            forward(try HunyuanVideoTransformer3DModel.load(from: sharded), g, "video"), expected, tolerance: 1e-4)

        // Written back as diffusers' folder (the patch embedding's weight in PyTorch's layout again), it reloads.
        let model = try loaded(g)
        assertClose(
            model.checkpointTensors()["x_embedder.proj.weight"]!, g.params["x_embedder.proj.weight"]!, tolerance: 0)
        let written = try temporaryDirectory(self)
        try model.writePretrainedFolder(written, config: g.config, className: "HunyuanVideoTransformer3DModel")
        let reloaded = try HunyuanVideoTransformer3DModel.load(from: written)
        XCTAssertEqual(reloaded.config, g.config)
        assertClose(forward(reloaded, g, "video"), expected, tolerance: 1e-4)

        let half = try temporaryDirectory(self)
        try Data(g.configJSON.utf8).write(to: half.appendingPathComponent("config.json"))
        try SafeTensors.save(
            g.params.mapValues { $0.asType(.bfloat16) },
            to: half.appendingPathComponent("diffusion_pytorch_model.safetensors"))
        let bf16 = try HunyuanVideoTransformer3DModel.load(from: half)
        XCTAssertEqual(bf16.patchEmbedding.weight.dtype, .bfloat16)
        XCTAssertEqual(Set(bf16.parameters().values.map(\.dtype)), [.bfloat16])
        let out = forward(bf16, g, "video", dtype: .bfloat16)
        XCTAssertEqual(out.dtype, .bfloat16)
        let error = maxAbsDifference(out, expected), scale = expected.abs().max().item(Float.self)
        XCTAssertLessThan(error, 0.1 * scale, "bfloat16")
        print("HunyuanVideo transformer in bfloat16: max abs error \(error), output scale \(scale)")
    }

    /// The released hunyuanvideo-community/HunyuanVideo transformer/config.json: every key and shape diffusers
    /// builds (tools/goldens/hunyuan_video_transformer.py, on the meta device) and the parameter count, so a
    /// downloaded checkpoint loads strictly. The model is built without evaluating its random weights.
    func testReleasedConfigHasDiffusersKeysAndShapes() throws {
        let folder = try temporaryDirectory(self)
        try Data(
            #"""
            {"_class_name": "HunyuanVideoTransformer3DModel", "_diffusers_version": "0.32.0.dev0", \#
            "attention_head_dim": 128, "guidance_embeds": true, "in_channels": 16, "mlp_ratio": 4.0, \#
            "num_attention_heads": 24, "num_layers": 20, "num_refiner_layers": 2, "num_single_layers": 40, \#
            "out_channels": 16, "patch_size": 2, "patch_size_t": 1, "pooled_projection_dim": 768, \#
            "qk_norm": "rms_norm", "rope_axes_dim": [16, 56, 56], "rope_theta": 256.0, "text_embed_dim": 4096}
            """#.utf8
        ).write(to: folder.appendingPathComponent("config.json"))
        let config = try HunyuanVideoTransformer3DConfig.load(folder)
        // Every value is diffusers' default.
        XCTAssertEqual(config, HunyuanVideoTransformer3DConfig())
        XCTAssertEqual(config.innerDim, 3072)

        let data = try Data(contentsOf: Fixture.url("hunyuan_video_transformer_shapes.json"))
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let fixtureConfig = try JSONDecoder().decode(
            HunyuanVideoTransformer3DConfig.self, from: JSONSerialization.data(withJSONObject: object["config"]!))
        XCTAssertEqual(fixtureConfig, config)
        let expected = try XCTUnwrap(object["shapes"] as? [String: [Int]])
        let model = HunyuanVideoTransformer3DModel(config)
        let shapes = model.checkpointTensors().mapValues(\.shape)
        XCTAssertEqual(shapes.count, 1264)
        XCTAssertEqual(Set(shapes.keys).symmetricDifference(expected.keys), [])
        for (key, shape) in expected where shapes[key] != shape {
            XCTFail("\(key): \(shapes[key] ?? []) ≠ diffusers' \(shape)")
        }
        XCTAssertEqual(model.parameterCount(), try XCTUnwrap(object["parameters"] as? Int))
        XCTAssertEqual(model.parameterCount(), 12_821_012_544)
    }

    /// A missing tensor and a wrong shape are reported by key; bad config values name the file and the key.
    func testLoadAndConfigErrorsNameTheKey() throws {
        let g = try golden()
        var incomplete = g.params
        incomplete["context_embedder.token_refiner.refiner_blocks.0.norm_out.linear.bias"] = nil
        XCTAssertThrowsError(try HunyuanVideoTransformer3DModel(g.config).load(incomplete)) {
            XCTAssert(
                "\($0)".contains(
                    "missing keys (1): context_embedder.token_refiner.refiner_blocks.0.norm_out.linear.bias"),
                "\($0)")
        }
        var misshapen = g.params
        misshapen["x_embedder.proj.weight"] = Tensor.zeros([20, 6, 2, 2, 2])
        XCTAssertThrowsError(try HunyuanVideoTransformer3DModel(g.config).load(misshapen)) {
            XCTAssert(
                "\($0)".contains("x_embedder.proj.weight: expected [20, 6, 1, 2, 2], found [20, 6, 2, 2, 2]"), "\($0)")
        }
        // A checkpoint without the guidance embedder given to a guidance-distilled config.
        var noGuidance = g.config
        noGuidance.guidanceEmbeds = false
        XCTAssertThrowsError(try HunyuanVideoTransformer3DModel(noGuidance).load(g.params)) {
            XCTAssert("\($0)".contains("time_text_embed.guidance_embedder.linear_1.weight"), "\($0)")
        }

        let folder = try temporaryDirectory(self)
        let file = folder.appendingPathComponent("config.json")
        try Data(
            #"""
            {"num_attention_heads": 2, "attention_head_dim": 10, "rope_axes_dim": [4, 4, 4], "qk_norm": "layer_norm", \#
            "image_condition_type": "first_frame", "mlp_ratio": 0, "patch_size": 0}
            """#.utf8
        ).write(to: file)
        XCTAssertThrowsError(try HunyuanVideoTransformer3DConfig.load(folder)) {
            let message = "\($0)"
            XCTAssert(message.contains(file.path), message)
            XCTAssert(
                message.contains("rope_axes_dim: expected entries summing to attention_head_dim 10, found sum 12"))
            for key in ["qk_norm", "image_condition_type", "mlp_ratio", "patch_size"] {
                XCTAssert(message.contains("\(key):"), "\(key) not named in: \(message)")
            }
        }
        // SkyReels-V1-style latent concatenation: only the input channels change.
        try Data(#"{"in_channels": 32, "out_channels": 16, "image_condition_type": "latent_concat"}"#.utf8)
            .write(to: file)
        let concat = try HunyuanVideoTransformer3DConfig.load(folder)
        XCTAssertEqual(concat.inChannels, 32)
        XCTAssertEqual(concat.outputChannels, 16)
        // diffusers' `out_channels or in_channels`.
        try Data(#"{"in_channels": 33, "out_channels": null}"#.utf8).write(to: file)
        XCTAssertEqual(try HunyuanVideoTransformer3DConfig.load(folder).outputChannels, 33)
    }
}
