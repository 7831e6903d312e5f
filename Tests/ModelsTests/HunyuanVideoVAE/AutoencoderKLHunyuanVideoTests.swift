import Checkpoints
import Engine
import Foundation
import Models
import NN
import TestSupport
import XCTest

/// Parity with diffusers' AutoencoderKLHunyuanVideo on a tiny random config with the released structure
/// (tools/goldens/hunyuan_video_vae.py): four blocks, spatial compression 8 and temporal 4, mid-block attention with
/// its causal frame mask. Videos of 1 and 5 frames, latents of 1 and 2 frames, and a tiled decode (temporal tiles,
/// each in spatial tiles) of 3 latent frames.
final class AutoencoderKLHunyuanVideoTests: XCTestCase {
    private struct Golden {
        let config: AutoencoderKLHunyuanVideoConfig
        let configJSON: String
        let params: [String: Tensor]
        let tensors: [String: Tensor]
        subscript(_ key: String) -> Tensor { tensors[key]! }
    }

    private func golden() throws -> Golden {
        let file = try SafeTensorsFile(url: Fixture.url("hunyuan_video_vae.safetensors"))
        let json = try XCTUnwrap(file.metadata["config"], "hunyuan_video_vae.safetensors has no config metadata")
        let config = try JSONDecoder().decode(AutoencoderKLHunyuanVideoConfig.self, from: Data(json.utf8))
        let all = try file.tensors()
        var params: [String: Tensor] = [:]
        for (k, v) in all where k.hasPrefix("param.") { params[String(k.dropFirst(6))] = v }
        return Golden(config: config, configJSON: json, params: params, tensors: all)
    }

    private func loadedModel(_ g: Golden) throws -> AutoencoderKLHunyuanVideo {
        let model = AutoencoderKLHunyuanVideo(g.config)
        try model.load(g.params)
        return model
    }

    /// A diffusers-style `vae/` folder holding the fixture's config and `tensors`.
    private func folder(_ g: Golden, tensors: [String: Tensor], sharded: Bool = false) throws -> URL {
        let folder = try temporaryDirectory(self)
        try Data(g.configJSON.utf8).write(to: folder.appendingPathComponent("config.json"))
        if sharded {
            try SafeTensorsCheckpoint.save(
                tensors, to: folder, name: "diffusion_pytorch_model", maxShardBytes: 64 << 10)
        } else {
            try SafeTensors.save(tensors, to: folder.appendingPathComponent("diffusion_pytorch_model.safetensors"))
        }
        return folder
    }

    func testConfigReadsTheFixtureAndReleasedDefaults() throws {
        let config = try golden().config
        XCTAssertEqual(config.blockOutChannels, [4, 4, 4, 8])
        XCTAssertEqual(config.latentChannels, 4)
        XCTAssertEqual(config.layersPerBlock, 1)
        XCTAssertEqual(config.normNumGroups, 2)
        XCTAssertEqual(config.blockStrides.map { [$0.time, $0.space] }, [[1, 2], [2, 2], [2, 2], [1, 1]])
        // hunyuanvideo-community/HunyuanVideo's vae/config.json; absent fields take diffusers' defaults, which are its.
        let released = try JSONDecoder().decode(
            AutoencoderKLHunyuanVideoConfig.self,
            from: Data(
                #"""
                {"_class_name": "AutoencoderKLHunyuanVideo", "_diffusers_version": "0.32.0.dev0", "act_fn": "silu",
                 "block_out_channels": [128, 256, 512, 512],
                 "down_block_types": ["HunyuanVideoDownBlock3D", "HunyuanVideoDownBlock3D", "HunyuanVideoDownBlock3D",
                                      "HunyuanVideoDownBlock3D"],
                 "in_channels": 3, "latent_channels": 16, "layers_per_block": 2, "mid_block_add_attention": true,
                 "norm_num_groups": 32, "out_channels": 3, "scaling_factor": 0.476986,
                 "spatial_compression_ratio": 8, "temporal_compression_ratio": 4,
                 "up_block_types": ["HunyuanVideoUpBlock3D", "HunyuanVideoUpBlock3D", "HunyuanVideoUpBlock3D",
                                    "HunyuanVideoUpBlock3D"]}
                """#.utf8))
        XCTAssertEqual(released, AutoencoderKLHunyuanVideoConfig())
        XCTAssertEqual(released.problems(), [])
        XCTAssertEqual(try JSONDecoder().decode(AutoencoderKLHunyuanVideoConfig.self, from: Data("{}".utf8)), released)
        let roundTrip = try JSONDecoder().decode(
            AutoencoderKLHunyuanVideoConfig.self, from: JSONEncoder().encode(config))
        XCTAssertEqual(roundTrip, config)
    }

    func testStrictLoadTakesEveryDiffusersKey() throws {
        let g = try golden()
        let model = AutoencoderKLHunyuanVideo(g.config)
        XCTAssertEqual(Set(model.parameters().keys), Set(g.params.keys))
        try model.load(g.params)  // strict: missing, extra or misshapen keys throw
        XCTAssertEqual(g.params.count, 180)
        XCTAssertEqual(model.parameterCount(), 40_067)  // sum(p.numel() for p in model.state_dict().values())
        let saved = model.checkpointTensors()
        for key in [
            "encoder.conv_in.conv.weight", "encoder.down_blocks.1.downsamplers.0.conv.conv.weight",
            "encoder.down_blocks.3.resnets.0.conv_shortcut.conv.weight", "decoder.mid_block.attentions.0.to_q.weight",
            "decoder.up_blocks.0.upsamplers.0.conv.conv.weight", "quant_conv.weight", "post_quant_conv.weight"
        ] {
            assertClose(saved[key]!, g.params[key]!, tolerance: 0, key)
        }
    }

    /// The released layout (diffusers' default config, what hunyuanvideo-community/HunyuanVideo's vae/ holds): every
    /// key and shape, without the weights; the model's tensors stay lazy.
    func testDefaultConfigHasReleasedCheckpointKeysAndShapes() throws {
        struct Layout: Decodable {
            let parameterCount: Int
            let shapes: [String: [Int]]
            enum CodingKeys: String, CodingKey { case parameterCount = "parameter_count", shapes }
        }
        let layout = try JSONDecoder().decode(
            Layout.self, from: Data(contentsOf: Fixture.url("hunyuan_video_vae_shapes.json")))
        let model = AutoencoderKLHunyuanVideo(AutoencoderKLHunyuanVideoConfig())
        let shapes = model.checkpointTensors().mapValues(\.shape)
        XCTAssertEqual(Set(shapes.keys).subtracting(layout.shapes.keys), [], "keys diffusers does not have")
        XCTAssertEqual(Set(layout.shapes.keys).subtracting(shapes.keys), [], "diffusers keys the model lacks")
        for (key, shape) in layout.shapes where shapes[key] != nil {
            XCTAssertEqual(shapes[key], shape, key)
        }
        XCTAssertEqual(model.parameterCount(), layout.parameterCount)
        XCTAssertEqual(layout.parameterCount, 246_478_803)
    }

    func testEncodeMatchesDiffusers() throws {
        let g = try golden()
        let model = try loadedModel(g)
        for name in ["video1", "video5"] {
            let posterior = model.encode(g["input.\(name)"])
            assertClose(posterior.mean, g["output.\(name).mean"], tolerance: 1e-4, "\(name) mean")
            assertClose(posterior.logvar, g["output.\(name).logvar"], tolerance: 1e-4, "\(name) logvar")
            assertClose(posterior.mode(), g["output.\(name).mean"], tolerance: 1e-4, "\(name) mode")
            print(
                "HunyuanVideoVAE encode \(name): max abs error mean "
                    + "\(maxAbsDifference(posterior.mean, g["output.\(name).mean"])) "
                    + "(scale \(g["output.\(name).mean"].abs().max().item(Float.self))), logvar "
                    + "\(maxAbsDifference(posterior.logvar, g["output.\(name).logvar"])) "
                    + "(scale \(g["output.\(name).logvar"].abs().max().item(Float.self)))")
        }
    }

    func testDecodeMatchesDiffusers() throws {
        let g = try golden()
        let model = try loadedModel(g)
        for name in ["latents1", "latents2"] {
            let decoded = model.decode(g["input.\(name)"])
            let expected = g["output.\(name).decoded"]
            assertClose(decoded, expected, tolerance: 1e-4, name)
            print(
                "HunyuanVideoVAE decode \(name): max abs error \(maxAbsDifference(decoded, expected)), output scale "
                    + "\(expected.abs().max().item(Float.self))")
        }
    }

    /// diffusers' `enable_tiling(16, 16, 8, 8, 8, 4)`: 3 latent frames exceed the 2-frame tiles, so they decode in
    /// temporal tiles, each of which is larger than 2×2 latents and decodes in spatial tiles; all blended as diffusers
    /// blends them. The tiles really change the result: the whole clip decoded at once is far from it.
    func testTiledDecodeMatchesDiffusers() throws {
        let g = try golden()
        let model = try loadedModel(g)
        let latents = g["input.latents3"]
        let expected = g["output.latents3.tiled"]
        model.tiling.enable(
            minHeight: 16, minWidth: 16, minFrames: 8, strideHeight: 8, strideWidth: 8, strideFrames: 4)
        let tiled = model.decode(latents)
        assertClose(tiled, expected, tolerance: 1e-4, "tiled")
        print(
            "HunyuanVideoVAE tiled decode: max abs error \(maxAbsDifference(tiled, expected)), output scale "
                + "\(expected.abs().max().item(Float.self))")
        model.tiling = HunyuanVideoVAETiling()
        model.tiling.useFramewiseDecoding = false
        XCTAssertGreaterThan(maxAbsDifference(model.decode(latents), expected), 0.1)
    }

    /// diffusers' `enable_slicing()`: batches of 2 go one item at a time, with the same result.
    func testSlicedBatchesMatchDiffusers() throws {
        let g = try golden()
        let model = try loadedModel(g)
        model.tiling.useSlicing = true
        assertClose(model.decode(g["input.latents1"]), g["output.latents1.decoded"], tolerance: 1e-4, "decode")
        assertClose(model.encode(g["input.video1"]).mean, g["output.video1.mean"], tolerance: 1e-4, "encode")
    }

    /// The same tiling on the encoder side: 9 frames exceed the 8-frame tiles, so they encode in temporal tiles of 9
    /// frames every 4, each taller than 16 pixels and so encoded in spatial tiles; the tiles change the result.
    func testTiledEncodeMatchesDiffusers() throws {
        let g = try golden()
        let model = try loadedModel(g)
        let video = g["input.video9"]
        let expected = g["output.video9.tiled.mean"]
        model.tiling.enable(
            minHeight: 16, minWidth: 16, minFrames: 8, strideHeight: 8, strideWidth: 8, strideFrames: 4)
        let tiled = model.encode(video).mean
        assertClose(tiled, expected, tolerance: 1e-4, "tiled")
        print(
            "HunyuanVideoVAE tiled encode: max abs error \(maxAbsDifference(tiled, expected)), output scale "
                + "\(expected.abs().max().item(Float.self))")
        model.tiling = HunyuanVideoVAETiling()
        model.tiling.useFramewiseEncoding = false
        XCTAssertGreaterThan(maxAbsDifference(model.encode(video).mean, expected), 0.1)
    }

    /// The causal convolutions and the masked attention let a frame reach later latent frames: replacing frame 0
    /// changes the second latent frame.
    func testFirstFrameReachesLaterLatentFrames() throws {
        let g = try golden()
        let model = try loadedModel(g)
        let video = g["input.video5"]
        let otherFirstFrame = concatenated(
            [Tensor.zeros(like: video[.all, .all, 0..<1]), video[.all, .all, 1...]], axis: 2)
        XCTAssertGreaterThan(
            maxAbsDifference(
                model.encode(otherFirstFrame).mean[.all, .all, 1...], g["output.video5.mean"][.all, .all, 1...]),
            1e-3)
    }

    func testLatentScalingMatchesThePipelines() throws {
        let g = try golden()
        let model = AutoencoderKLHunyuanVideo(g.config)
        assertClose(model.normalize(g["output.video5.mean"]), g["pipeline.scaled"], tolerance: 1e-6, "normalize")
        assertClose(model.denormalize(g["input.latents2"]), g["pipeline.unscaled"], tolerance: 1e-6, "denormalize")
        let z = g["input.latents2"]
        assertClose(model.normalize(model.denormalize(z)), z, tolerance: 1e-6, "round trip")
    }

    func testLoadFromFolderSingleShardedAndBFloat16() throws {
        let g = try golden()
        let expected = g["output.latents2.decoded"]
        for sharded in [false, true] {
            let url = try folder(g, tensors: g.params, sharded: sharded)
            if sharded {
                let files = try FileManager.default.contentsOfDirectory(atPath: url.path)
                XCTAssertGreaterThan(files.filter { $0.hasSuffix(".safetensors") }.count, 1, "\(files)")
            }
            let model = try AutoencoderKLHunyuanVideo.load(from: url)
            XCTAssertEqual(model.config, g.config)
            assertClose(model.decode(g["input.latents2"]), expected, tolerance: 1e-4, sharded ? "sharded" : "single")
        }
        let bf16 = g.params.mapValues { $0.asType(.bfloat16) }
        let url = try folder(g, tensors: bf16)
        let kept = try AutoencoderKLHunyuanVideo.load(from: url)
        XCTAssertEqual(kept.encoder.convIn.conv.weight.dtype, .bfloat16)
        let widened = try AutoencoderKLHunyuanVideo.load(from: url, dtype: .float32)
        XCTAssertEqual(widened.encoder.convIn.conv.weight.dtype, .float32)
        // The widened model is the float32 model of the rounded weights.
        let rounded = AutoencoderKLHunyuanVideo(g.config)
        try rounded.load(bf16.mapValues { $0.asType(.float32) })
        let latents = g["input.latents2"]
        assertClose(widened.decode(latents), rounded.decode(latents), tolerance: 0, "bfloat16 weights widened")
    }

    func testMissingKeyAndWrongShapeAreNamed() throws {
        let g = try golden()
        var incomplete = g.params
        incomplete["decoder.mid_block.attentions.0.to_k.bias"] = nil
        XCTAssertThrowsError(try AutoencoderKLHunyuanVideo.load(from: folder(g, tensors: incomplete))) { error in
            let message = "\(error)"
            XCTAssert(message.contains("missing keys (1): decoder.mid_block.attentions.0.to_k.bias"), message)
        }
        var misshapen = g.params
        misshapen["encoder.conv_in.conv.weight"] = Tensor.ones([4, 3, 3, 3])
        XCTAssertThrowsError(try AutoencoderKLHunyuanVideo(g.config).load(misshapen)) { error in
            let message = "\(error)"
            XCTAssert(
                message.contains("encoder.conv_in.conv.weight: expected [4, 3, 3, 3, 3], found [4, 3, 3, 3]"), message)
        }
        var extra = g.params
        extra["encoder.down_blocks.3.downsamplers.0.conv.conv.weight"] = Tensor.zeros([8, 8, 3, 3, 3])
        XCTAssertThrowsError(try AutoencoderKLHunyuanVideo(g.config).load(extra)) { error in
            let message = "\(error)"
            XCTAssert(
                message.contains("unexpected keys (1): encoder.down_blocks.3.downsamplers.0.conv.conv.weight"),
                message)
        }
    }

    func testUnsupportedOrInconsistentConfigNamesTheFileAndKeys() throws {
        let folder = try temporaryDirectory(self)
        let file = folder.appendingPathComponent("config.json")
        try Data(
            #"""
            {"block_out_channels": [4, 6, 8], "norm_num_groups": 4, "temporal_compression_ratio": 8,
             "spatial_compression_ratio": 6, "act_fn": "gelu", "up_block_types": ["UpDecoderBlock2D"]}
            """#.utf8
        ).write(to: file)
        for load in [
            { _ = try AutoencoderKLHunyuanVideoConfig.load(folder) },
            { _ = try AutoencoderKLHunyuanVideo.load(from: folder) }
        ] {
            XCTAssertThrowsError(try load()) { error in
                let message = "\(error)"
                XCTAssert(message.contains(file.path), message)
                for key in [
                    "block_out_channels[1]: expected a multiple of norm_num_groups 4, found 6",
                    "down_block_types: expected one entry per block_out_channels entry (3), found 4",
                    "up_block_types[0]: expected \"HunyuanVideoUpBlock3D\", found \"UpDecoderBlock2D\"",
                    "act_fn", "spatial_compression_ratio", "temporal_compression_ratio: only 4"
                ] {
                    XCTAssert(message.contains(key), "\(key) not in: \(message)")
                }
            }
        }
    }
}
