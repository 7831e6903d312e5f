import Checkpoints
import Engine
import Foundation
import Models
import NN
import TestSupport
import XCTest

/// Parity with diffusers' AutoencoderKLWan on a tiny random config with Wan 2.1's structure (tools/goldens/wan_vae.py):
/// four levels, temperal_downsample [false, true, true], so spatial compression 8 and temporal 4. Videos of 1, 5 and 9
/// frames (one, two and three encoder chunks) and latents of 1, 2 and 3 frames, so that every feature-cache entry is
/// written, read, and read again once it holds a full past.
final class WanVAETests: XCTestCase {
    private struct Golden {
        let config: AutoencoderKLWanConfig
        let configJSON: String
        let params: [String: Tensor]
        let tensors: [String: Tensor]
        subscript(_ key: String) -> Tensor { tensors[key]! }
    }

    private func golden() throws -> Golden {
        let file = try SafeTensorsFile(url: Fixture.url("wan_vae.safetensors"))
        let json = try XCTUnwrap(file.metadata["config"], "wan_vae.safetensors has no config metadata")
        let config = try JSONDecoder().decode(AutoencoderKLWanConfig.self, from: Data(json.utf8))
        let all = try file.tensors()
        var params: [String: Tensor] = [:]
        for (k, v) in all where k.hasPrefix("param.") { params[String(k.dropFirst(6))] = v }
        return Golden(config: config, configJSON: json, params: params, tensors: all)
    }

    private func loadedModel(_ g: Golden) throws -> AutoencoderKLWan {
        let model = AutoencoderKLWan(g.config)
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

    func testConfigReadsTheFixtureAndWan21Defaults() throws {
        let config = try golden().config
        XCTAssertEqual(config.baseDim, 4)
        XCTAssertEqual(config.zDim, 4)
        XCTAssertEqual(config.dimMult, [1, 2, 2, 2])
        XCTAssertEqual(config.temperalDownsample, [false, true, true])
        XCTAssertEqual(config.spatialCompression, 8)
        XCTAssertEqual(config.temporalCompression, 4)
        XCTAssertEqual(config.latentsStd, [2.8, 1.45, 0.6, 1.9])
        // Wan2.1-T2V-1.3B-Diffusers' vae/config.json lists these fields; the rest take diffusers' defaults.
        let wan = try JSONDecoder().decode(
            AutoencoderKLWanConfig.self,
            from: Data(
                #"""
                {"_class_name": "AutoencoderKLWan", "_diffusers_version": "0.33.0.dev0", "attn_scales": [],
                 "base_dim": 96, "dim_mult": [1, 2, 4, 4], "dropout": 0.0, "num_res_blocks": 2,
                 "temperal_downsample": [false, true, true], "z_dim": 16}
                """#.utf8))
        XCTAssertEqual(wan, AutoencoderKLWanConfig())
        XCTAssertEqual(wan.latentsMean.count, 16)
        XCTAssertEqual(wan.latentsStd[0], 2.8184)
        XCTAssertEqual(wan.decoderDim, 96)
        XCTAssertEqual(wan.scaleFactorTemporal, 4)
        let roundTrip = try JSONDecoder().decode(AutoencoderKLWanConfig.self, from: JSONEncoder().encode(config))
        XCTAssertEqual(roundTrip, config)
    }

    func testStrictLoadTakesEveryDiffusersKey() throws {
        let g = try golden()
        let model = AutoencoderKLWan(g.config)
        XCTAssertEqual(Set(model.parameters().keys), Set(g.params.keys))
        try model.load(g.params)  // strict: missing, extra or misshapen keys throw
        XCTAssertEqual(g.params.count, 146)
        XCTAssertEqual(model.parameterCount(), 52_851)  // sum(p.numel() for p in model.parameters()) in diffusers
        // Saving gives diffusers' layout back (channels-first convolution weights, γ in its [C, 1, 1(, 1)] shape).
        let saved = model.checkpointTensors()
        for key in [
            "encoder.conv_in.weight", "encoder.down_blocks.3.time_conv.weight",
            "encoder.down_blocks.1.resample.1.weight",
            "decoder.mid_block.attentions.0.to_qkv.weight", "decoder.mid_block.attentions.0.norm.gamma",
            "decoder.up_blocks.0.upsamplers.0.time_conv.weight", "decoder.norm_out.gamma", "post_quant_conv.weight"
        ] {
            assertClose(saved[key]!, g.params[key]!, tolerance: 0, key)
        }
    }

    /// Wan 2.1's real layout (diffusers' default config, what Wan2.1-T2V-1.3B-Diffusers' vae/ holds): every key and
    /// shape of the checkpoint, without its weights. The model's tensors stay lazy, so nothing of its 127M
    /// parameters is computed.
    func testDefaultConfigHasWan21CheckpointKeysAndShapes() throws {
        struct Layout: Decodable {
            let parameterCount: Int
            let shapes: [String: [Int]]
            enum CodingKeys: String, CodingKey { case parameterCount = "parameter_count", shapes }
        }
        let layout = try JSONDecoder().decode(
            Layout.self, from: Data(contentsOf: Fixture.url("wan_vae_wan21_shapes.json")))
        let model = AutoencoderKLWan(AutoencoderKLWanConfig())
        let shapes = model.checkpointTensors().mapValues(\.shape)
        XCTAssertEqual(Set(shapes.keys).subtracting(layout.shapes.keys), [], "keys diffusers does not have")
        XCTAssertEqual(Set(layout.shapes.keys).subtracting(shapes.keys), [], "diffusers keys the model lacks")
        for (key, shape) in layout.shapes where shapes[key] != nil {
            XCTAssertEqual(shapes[key], shape, key)
        }
        XCTAssertEqual(model.parameterCount(), layout.parameterCount)
        XCTAssertEqual(layout.parameterCount, 126_892_531)
    }

    func testEncodeMatchesDiffusers() throws {
        let g = try golden()
        let model = try loadedModel(g)
        for name in ["video1", "video5", "video9"] {
            let posterior = model.encode(g["input.\(name)"])
            assertClose(posterior.mean, g["output.\(name).mean"], tolerance: 1e-4, "\(name) mean")
            assertClose(posterior.logvar, g["output.\(name).logvar"], tolerance: 1e-4, "\(name) logvar")
            let meanError = maxAbsDifference(posterior.mean, g["output.\(name).mean"])
            print(
                "WanVAE encode \(name): max abs error mean \(meanError) "
                    + "(scale \(g["output.\(name).mean"].abs().max().item(Float.self))), logvar "
                    + "\(maxAbsDifference(posterior.logvar, g["output.\(name).logvar"])) "
                    + "(scale \(g["output.\(name).logvar"].abs().max().item(Float.self)))")
        }
    }

    func testDecodeMatchesDiffusers() throws {
        let g = try golden()
        let model = try loadedModel(g)
        for name in ["latents1", "latents2", "latents3"] {
            let decoded = model.decode(g["input.\(name)"])
            let expected = g["output.\(name).decoded"]
            assertClose(decoded, expected, tolerance: 1e-4, name)
            print(
                "WanVAE decode \(name): max abs error \(maxAbsDifference(decoded, expected)), output scale "
                    + "\(expected.abs().max().item(Float.self))")
        }
    }

    /// The chunked time axis is causal: a later frame never changes an earlier one, so the first latent frame of
    /// five frames is the one frame 0 alone encodes to, and the first decoded frame of two latent frames is the one
    /// the first latent frame alone decodes to. Later frames do depend on earlier ones (the cache carries them).
    func testChunksAreCausalAndCarryThePast() throws {
        let g = try golden()
        let model = try loadedModel(g)
        let video = g["input.video5"]
        let alone = model.encode(video[.all, .all, 0..<1]).mean
        assertClose(model.encode(video).mean[.all, .all, 0..<1], alone, tolerance: 1e-6, "encode frame 0")
        let latents = g["input.latents2"]
        let first = model.decode(latents[.all, .all, 0..<1])
        assertClose(model.decode(latents)[.all, .all, 0..<1], first, tolerance: 1e-6, "decode frame 0")
        // Frame 0 reaches the later chunks through the cache: replacing it changes the second latent frame, and
        // replacing the first latent frame changes decoded frames 1-4.
        let otherFirstFrame = concatenated(
            [Tensor.zeros(like: video[.all, .all, 0..<1]), video[.all, .all, 1...]], axis: 2)
        XCTAssertGreaterThan(
            maxAbsDifference(
                model.encode(otherFirstFrame).mean[.all, .all, 1...], g["output.video5.mean"][.all, .all, 1...]),
            1e-3)
        let otherFirstLatent = concatenated([-latents[.all, .all, 0..<1], latents[.all, .all, 1...]], axis: 2)
        XCTAssertGreaterThan(
            maxAbsDifference(
                model.decode(otherFirstLatent)[.all, .all, 1...], g["output.latents2.decoded"][.all, .all, 1...]),
            1e-3)
    }

    func testLatentNormalisationMatchesThePipelines() throws {
        let g = try golden()
        let model = AutoencoderKLWan(g.config)
        assertClose(model.normalize(g["output.video5.mean"]), g["pipeline.normalized"], tolerance: 1e-6, "normalize")
        assertClose(model.denormalize(g["input.latents2"]), g["pipeline.denormalized"], tolerance: 1e-6, "denormalize")
        let z = g["input.latents2"]
        assertClose(model.normalize(model.denormalize(z)), z, tolerance: 1e-6, "round trip")
        // Each channel has its own statistics: swapping two channels' entries changes the result.
        var swapped = g.config
        swapped.latentsStd.swapAt(1, 2)
        XCTAssertGreaterThan(
            maxAbsDifference(AutoencoderKLWan(swapped).denormalize(z), g["pipeline.denormalized"]), 0.1)
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
            let model = try AutoencoderKLWan.load(from: url)
            XCTAssertEqual(model.config, g.config)
            assertClose(model.decode(g["input.latents2"]), expected, tolerance: 1e-4, sharded ? "sharded" : "single")
        }
        // bfloat16 weights (as Wan checkpoints ship) keep their dtype, or are widened when asked.
        let bf16 = g.params.mapValues { $0.asType(.bfloat16) }
        let url = try folder(g, tensors: bf16)
        let kept = try AutoencoderKLWan.load(from: url)
        XCTAssertEqual(kept.encoder.convIn.weight.dtype, .bfloat16)
        // Computed in bfloat16 end to end: each of some twenty layers rounds to 8 significant bits, so the result is
        // near diffusers' float64 one, not within 1e-4 of it.
        let decodedInHalf = kept.decode(g["input.latents2"].asType(.bfloat16))
        XCTAssertEqual(decodedInHalf.dtype, .bfloat16)
        assertClose(decodedInHalf, expected, tolerance: 0.1, "bfloat16 decode")
        let meanInHalf = kept.encode(g["input.video5"].asType(.bfloat16)).mean
        XCTAssertEqual(meanInHalf.dtype, .bfloat16)
        assertClose(meanInHalf, g["output.video5.mean"], tolerance: 0.02, "bfloat16 encode")
        let widened = try AutoencoderKLWan.load(from: url, dtype: .float32)
        XCTAssertEqual(widened.encoder.convIn.weight.dtype, .float32)
        let key = "decoder.conv_out.weight"
        assertClose(widened.checkpointTensors()[key]!, bf16[key]!.asType(.float32), tolerance: 0, key)
        // The widened model is the float32 model of the rounded weights.
        let rounded = AutoencoderKLWan(g.config)
        try rounded.load(bf16.mapValues { $0.asType(.float32) })
        let latents = g["input.latents2"]
        assertClose(widened.decode(latents), rounded.decode(latents), tolerance: 0, "bfloat16 weights widened")
    }

    func testMissingKeyAndWrongShapeAreNamed() throws {
        let g = try golden()
        var incomplete = g.params
        incomplete["decoder.up_blocks.1.upsamplers.0.time_conv.weight"] = nil
        XCTAssertThrowsError(try AutoencoderKLWan.load(from: folder(g, tensors: incomplete))) { error in
            let message = "\(error)"
            XCTAssert(message.contains("missing keys (1): decoder.up_blocks.1.upsamplers.0.time_conv.weight"), message)
        }
        var misshapen = g.params
        misshapen["encoder.down_blocks.0.norm1.gamma"] = Tensor.ones([4])
        XCTAssertThrowsError(try AutoencoderKLWan(g.config).load(misshapen)) { error in
            let message = "\(error)"
            XCTAssert(
                message.contains("encoder.down_blocks.0.norm1.gamma: expected [4, 1, 1, 1], found [4]"), message)
        }
        var extra = g.params
        extra["encoder.down_blocks.1.time_conv.weight"] = Tensor.zeros([4, 4, 3, 1, 1])
        XCTAssertThrowsError(try AutoencoderKLWan(g.config).load(extra)) { error in
            let message = "\(error)"
            XCTAssert(message.contains("unexpected keys (1): encoder.down_blocks.1.time_conv.weight"), message)
        }
    }

    func testUnsupportedOrInconsistentConfigNamesTheFileAndKeys() throws {
        let folder = try temporaryDirectory(self)
        let file = folder.appendingPathComponent("config.json")
        try Data(
            #"""
            {"base_dim": 4, "z_dim": 4, "dim_mult": [1, 2, 2], "temperal_downsample": [false, true, true],
             "latents_mean": [0, 0, 0], "latents_std": [1, 1, 0, 1], "attn_scales": [1.0], "is_residual": true}
            """#.utf8
        ).write(to: file)
        for load in [{ _ = try AutoencoderKLWanConfig.load(folder) }, { _ = try AutoencoderKLWan.load(from: folder) }] {
            XCTAssertThrowsError(try load()) { error in
                let message = "\(error)"
                XCTAssert(message.contains(file.path), message)
                for key in [
                    "temperal_downsample", "latents_mean: expected z_dim 4 entries, found 3", "latents_std[2]",
                    "attn_scales", "is_residual"
                ] {
                    XCTAssert(message.contains(key), "\(key) not in: \(message)")
                }
            }
        }
    }
}
