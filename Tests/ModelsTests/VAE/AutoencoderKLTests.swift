import Checkpoints
import Engine
import Foundation
import Models
import NN
import TestSupport
import XCTest

/// Parity with diffusers' AutoencoderKL on two tiny random configs (tools/goldens/vae.py): a Stable Diffusion v1
/// shape (4 latent channels, quant convs, no shift) and a FLUX shape (16 latent channels, shift, no quant convs).
final class AutoencoderKLTests: XCTestCase {
    private struct Golden {
        let config: AutoencoderKLConfig
        let configJSON: String
        let params: [String: Tensor]
        let tensors: [String: Tensor]
        subscript(_ key: String) -> Tensor { tensors[key]! }
    }

    private static let fixtures = ["vae_sd.safetensors", "vae_flux.safetensors"]

    private func golden(_ name: String) throws -> Golden {
        let file = try SafeTensorsFile(url: Fixture.url(name))
        let json = try XCTUnwrap(file.metadata["config"], "\(name) has no config metadata")
        let config = try JSONDecoder().decode(AutoencoderKLConfig.self, from: Data(json.utf8))
        let all = try file.tensors()
        var params: [String: Tensor] = [:]
        for (k, v) in all where k.hasPrefix("param.") { params[String(k.dropFirst(6))] = v }
        return Golden(config: config, configJSON: json, params: params, tensors: all)
    }

    private func loadedModel(_ g: Golden) throws -> AutoencoderKL {
        let model = AutoencoderKL(g.config)
        try model.load(g.params)
        return model
    }

    func testConfigsMatchTheFixtures() throws {
        let sd = try golden("vae_sd.safetensors").config
        XCTAssertEqual(sd.latentChannels, 4)
        XCTAssertEqual(sd.scalingFactor, 0.18215)
        XCTAssertNil(sd.shiftFactor)
        XCTAssertTrue(sd.useQuantConv && sd.usePostQuantConv)
        XCTAssertEqual(sd.downsamplingFactor, 2)
        let flux = try golden("vae_flux.safetensors").config
        XCTAssertEqual(flux.latentChannels, 16)
        XCTAssertEqual(flux.shiftFactor, 0.1159)
        XCTAssertEqual(flux.scalingFactor, 0.3611)
        XCTAssertFalse(flux.useQuantConv || flux.usePostQuantConv)
        XCTAssertEqual(flux.layersPerBlock, 2)
        XCTAssertEqual(flux.downsamplingFactor, 4)
    }

    func testStrictLoadTakesEveryDiffusersKey() throws {
        for name in Self.fixtures {
            let g = try golden(name)
            let model = AutoencoderKL(g.config)
            XCTAssertEqual(Set(model.parameters().keys), Set(g.params.keys), name)
            try model.load(g.params)  // strict: missing, extra or misshapen keys throw
            XCTAssertEqual(model.parameterCount(), g.params.values.reduce(0) { $0 + $1.count }, name)
            // Saving gives diffusers' layout back (convolution weights channels-first).
            let saved = model.checkpointTensors()
            for key in [
                "encoder.conv_in.weight", "decoder.mid_block.attentions.0.to_q.weight",
                "decoder.up_blocks.0.upsamplers.0.conv.weight"
            ] {
                assertClose(saved[key]!, g.params[key]!, tolerance: 0, "\(name) \(key)")
            }
        }
        // A missing tensor is reported by key.
        let g = try golden("vae_sd.safetensors")
        var incomplete = g.params
        incomplete["encoder.mid_block.attentions.0.group_norm.weight"] = nil
        XCTAssertThrowsError(try AutoencoderKL(g.config).load(incomplete)) {
            XCTAssert("\($0)".contains("encoder.mid_block.attentions.0.group_norm.weight"), "\($0)")
        }
    }

    func testMidBlockWithoutAttentionHasNoAttentionKeys() throws {
        var config = try golden("vae_sd.safetensors").config
        config.midBlockAddAttention = false
        let model = AutoencoderKL(config)
        XCTAssertFalse(model.parameters().keys.contains { $0.contains("attentions") })
        XCTAssertEqual(model.decode(Tensor.zeros([1, 4, 4, 4])).shape, [1, 8, 8, 3])
    }

    func testEncodeMatchesDiffusers() throws {
        for name in Self.fixtures {
            let g = try golden(name)
            let posterior = try loadedModel(g).encode(g["input.images"])
            assertClose(posterior.mean, g["output.mean"], tolerance: 1e-4, "\(name) mean")
            assertClose(posterior.logvar, g["output.logvar"], tolerance: 1e-4, "\(name) logvar")
            print(
                "VAE \(name) encode: max abs error mean \(maxAbsDifference(posterior.mean, g["output.mean"])), "
                    + "logvar \(maxAbsDifference(posterior.logvar, g["output.logvar"]))")
        }
    }

    func testDecodeMatchesDiffusers() throws {
        for name in Self.fixtures {
            let g = try golden(name)
            let decoded = try loadedModel(g).decode(g["input.latents"])
            assertClose(decoded, g["output.decoded"], tolerance: 1e-4, name)
            print(
                "VAE \(name) decode: max abs error \(maxAbsDifference(decoded, g["output.decoded"])), "
                    + "output scale \(g["output.decoded"].abs().max().item(Float.self))")
        }
    }

    func testLatentNormalisationMatchesThePipelines() throws {
        for name in Self.fixtures {
            let g = try golden(name)
            let model = AutoencoderKL(g.config)
            assertClose(
                model.normalize(g["output.mean"]), g["pipeline.normalized"], tolerance: 1e-6, "\(name) normalize")
            assertClose(
                model.denormalize(g["input.latents"]), g["pipeline.denormalized"], tolerance: 1e-6,
                "\(name) denormalize")
            let z = g["input.latents"]
            assertClose(model.normalize(model.denormalize(z)), z, tolerance: 1e-6, "\(name) round trip")
            assertClose(model.denormalize(model.normalize(z)), z, tolerance: 1e-6, "\(name) round trip")
        }
        // The shift matters: without it the FLUX latents would be off by shift · scale.
        let flux = try golden("vae_flux.safetensors")
        var unshifted = flux.config
        unshifted.shiftFactor = nil
        let z = flux["output.mean"]
        XCTAssertGreaterThan(maxAbsDifference(AutoencoderKL(unshifted).normalize(z), flux["pipeline.normalized"]), 0.04)
    }

    func testPosteriorSamplingUsesTheKey() throws {
        let g = try golden("vae_flux.safetensors")
        let posterior = try loadedModel(g).encode(g["input.images"])
        let key = RandomKey(seed: 7)
        let sample = posterior.sample(key: key)
        let noise = Random.normal(posterior.mean.shape, key: key)
        assertClose(sample, posterior.mean + (posterior.logvar * 0.5).exp() * noise, tolerance: 1e-6)
        assertClose(posterior.sample(key: key), sample, tolerance: 0)
        XCTAssertGreaterThan(maxAbsDifference(posterior.sample(key: RandomKey(seed: 8)), sample), 1e-3)
        assertClose(posterior.mode(), posterior.mean, tolerance: 0)
    }

    func testLoadFromFolderIncludingLegacyAttentionNames() throws {
        let g = try golden("vae_sd.safetensors")
        let expected = g["output.decoded"]
        for legacy in [false, true] {
            let folder = try temporaryDirectory(self)
            try Data(g.configJSON.utf8).write(to: folder.appendingPathComponent("config.json"))
            var tensors = g.params
            if legacy {
                // Checkpoints saved before diffusers 0.14 name the attention projections query/key/value/proj_attn.
                for (old, new) in [("query", "to_q"), ("key", "to_k"), ("value", "to_v"), ("proj_attn", "to_out.0")] {
                    for part in ["weight", "bias"] {
                        for side in ["encoder", "decoder"] {
                            let prefix = "\(side).mid_block.attentions.0."
                            tensors[prefix + "\(old).\(part)"] = tensors.removeValue(forKey: prefix + "\(new).\(part)")!
                        }
                    }
                }
            }
            try SafeTensors.save(tensors, to: folder.appendingPathComponent("diffusion_pytorch_model.safetensors"))
            let model = try AutoencoderKL.load(from: folder)
            XCTAssertEqual(model.config, g.config)
            assertClose(
                model.decode(g["input.latents"]), expected, tolerance: 1e-4, legacy ? "legacy names" : "current names")
        }
    }

    func testUnsupportedBlockTypeNamesTheFileAndTheType() throws {
        let folder = try temporaryDirectory(self)
        let file = folder.appendingPathComponent("config.json")
        try Data(
            #"""
            {"block_out_channels": [8, 16], "norm_num_groups": 4,
             "down_block_types": ["DownEncoderBlock2D", "AttnDownEncoderBlock2D"],
             "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"]}
            """#.utf8
        ).write(to: file)
        for load in [{ _ = try AutoencoderKLConfig.load(folder) }, { _ = try AutoencoderKL.load(from: folder) }] {
            XCTAssertThrowsError(try load()) { error in
                let message = "\(error)"
                XCTAssert(message.contains(file.path), message)
                XCTAssert(
                    message.contains("AttnDownEncoderBlock2D") && message.contains("down_block_types[1]"), message)
            }
        }
        // Other problems are reported the same way, all at once.
        try Data(#"{"block_out_channels": [8, 12], "norm_num_groups": 8, "act_fn": "gelu"}"#.utf8).write(to: file)
        XCTAssertThrowsError(try AutoencoderKLConfig.load(folder)) { error in
            let message = "\(error)"
            XCTAssert(
                message.contains("act_fn 'gelu'") && message.contains("12") && message.contains("same length"), message)
        }
    }

    func testConfigReadsDiffusersDefaultsAndBothSampleSizeForms() throws {
        let defaults = try JSONDecoder().decode(AutoencoderKLConfig.self, from: Data("{}".utf8))
        XCTAssertEqual(defaults, AutoencoderKLConfig())
        XCTAssertEqual(defaults.scalingFactor, 0.18215)
        XCTAssertNil(defaults.shiftFactor)
        XCTAssertEqual(defaults.layersPerBlock, 1)
        let flux = try JSONDecoder().decode(
            AutoencoderKLConfig.self,
            from: Data(
                #"""
                {"_class_name": "AutoencoderKL", "latent_channels": 16, "sample_size": [1024, 1024], "shift_factor": \#
                0.1159,
                 "scaling_factor": 0.3611, "latents_mean": null, "use_quant_conv": false}
                """#.utf8))
        XCTAssertEqual(flux.sampleSize, [1024, 1024])
        XCTAssertEqual(flux.shiftFactor, 0.1159)
        XCTAssertFalse(flux.useQuantConv)
        XCTAssertTrue(flux.usePostQuantConv)
        let roundTrip = try JSONDecoder().decode(AutoencoderKLConfig.self, from: JSONEncoder().encode(flux))
        XCTAssertEqual(roundTrip, flux)
    }
}
