import Checkpoints
import Engine
import Foundation
import Models
import NN
import TestSupport
import XCTest

/// Parity with diffusers' own AutoencoderKLQwenImage module on a tiny random config with Qwen-Image's structure
/// (tools/goldens/qwen_image_vae.py): one-frame images in, latents out and back, and the Qwen pipelines' latent
/// normalisation.
final class QwenImageVAETests: XCTestCase {
    private struct Golden {
        let config: AutoencoderKLQwenImageConfig
        let configJSON: String
        let params: [String: Tensor]
        let tensors: [String: Tensor]
        subscript(_ key: String) -> Tensor { tensors[key]! }
    }

    private func golden() throws -> Golden {
        let file = try SafeTensorsFile(url: Fixture.url("qwen_image_vae.safetensors"))
        let json = try XCTUnwrap(file.metadata["config"], "qwen_image_vae.safetensors has no config metadata")
        let config = try JSONDecoder().decode(AutoencoderKLQwenImageConfig.self, from: Data(json.utf8))
        let all = try file.tensors()
        var params: [String: Tensor] = [:]
        for (k, v) in all where k.hasPrefix("param.") { params[String(k.dropFirst(6))] = v }
        return Golden(config: config, configJSON: json, params: params, tensors: all)
    }

    private func folder(_ g: Golden, configJSON: String? = nil, tensors: [String: Tensor]) throws -> URL {
        let folder = try temporaryDirectory(self)
        try Data((configJSON ?? g.configJSON).utf8).write(to: folder.appendingPathComponent("config.json"))
        try SafeTensors.save(tensors, to: folder.appendingPathComponent("diffusion_pytorch_model.safetensors"))
        return folder
    }

    func testConfigReadsQwenImageFileAsWan21() throws {
        let g = try golden()
        XCTAssertEqual(g.config.inputChannels, 3)
        XCTAssertEqual(g.config.wan.inChannels, 3)
        XCTAssertEqual(g.config.latentsStd, [1.7, 0.45, 2.3, 1.1])
        // Qwen/Qwen-Image's vae/config.json as published: Wan 2.1's network and latent statistics.
        let qwen = try JSONDecoder().decode(
            AutoencoderKLQwenImageConfig.self,
            from: Data(
                #"""
                {"_class_name": "AutoencoderKLQwenImage", "_diffusers_version": "0.34.0.dev0", "attn_scales": [],
                 "base_dim": 96, "dim_mult": [1, 2, 4, 4], "dropout": 0.0,
                 "latents_mean": [-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508, 0.4134,
                                  -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921],
                 "latents_std": [2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743, 3.2687, 2.1526,
                                 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.916],
                 "num_res_blocks": 2, "temperal_downsample": [false, true, true], "z_dim": 16}
                """#.utf8))
        XCTAssertEqual(qwen, AutoencoderKLQwenImageConfig())
        XCTAssertEqual(qwen.wan, AutoencoderKLWanConfig())
        XCTAssertEqual(qwen.spatialCompression, 8)
        // One input_channels is the encoder's input and the decoder's output.
        var four = AutoencoderKLQwenImageConfig()
        four.inputChannels = 4
        XCTAssertEqual(four.wan.inChannels, 4)
        XCTAssertEqual(four.wan.outChannels, 4)
        let roundTrip = try JSONDecoder().decode(
            AutoencoderKLQwenImageConfig.self, from: JSONEncoder().encode(g.config))
        XCTAssertEqual(roundTrip, g.config)
    }

    func testStrictLoadTakesEveryDiffusersKey() throws {
        let g = try golden()
        let model = AutoencoderKLQwenImage(g.config)
        XCTAssertEqual(Set(model.parameters().keys), Set(g.params.keys))
        try model.load(g.params)
        XCTAssertEqual(g.params.count, 146)
        XCTAssertEqual(model.parameterCount(), 52_851)
    }

    /// Qwen-Image's full-size layout: diffusers' AutoencoderKLQwenImage() has exactly AutoencoderKLWan()'s keys and
    /// shapes (the generator asserts it), which wan_vae_wan21_shapes.json records; the model built from the
    /// published config has them all. Tensors stay lazy.
    func testDefaultConfigHasQwenImageCheckpointKeysAndShapes() throws {
        struct Layout: Decodable {
            let parameterCount: Int
            let shapes: [String: [Int]]
            enum CodingKeys: String, CodingKey { case parameterCount = "parameter_count", shapes }
        }
        let layout = try JSONDecoder().decode(
            Layout.self, from: Data(contentsOf: Fixture.url("wan_vae_wan21_shapes.json")))
        let model = AutoencoderKLQwenImage(AutoencoderKLQwenImageConfig())
        let shapes = model.checkpointTensors().mapValues(\.shape)
        XCTAssertEqual(Set(shapes.keys), Set(layout.shapes.keys))
        for (key, shape) in layout.shapes { XCTAssertEqual(shapes[key], shape, key) }
        XCTAssertEqual(model.parameterCount(), 126_892_531)
    }

    func testEncodeImagesMatchesDiffusers() throws {
        let g = try golden()
        let model = AutoencoderKLQwenImage(g.config)
        try model.load(g.params)
        for name in ["image1", "image2"] {
            let posterior = model.encode(g["input.\(name)"])
            for (part, value) in [("mean", posterior.mean), ("logvar", posterior.logvar)] {
                let expected = g["output.\(name).\(part)"]
                let scale = expected.abs().max().item(Float.self)
                assertClose(value, expected, tolerance: 1e-4, "\(name) \(part)")
                print(
                    "QwenImageVAE encode \(name) \(part): max abs error \(maxAbsDifference(value, expected)), "
                        + "scale \(scale)")
            }
        }
    }

    func testDecodeLatentsMatchesDiffusers() throws {
        let g = try golden()
        let model = AutoencoderKLQwenImage(g.config)
        try model.load(g.params)
        for name in ["latents1", "latents2"] {
            let decoded = model.decode(g["input.\(name)"])
            let expected = g["output.\(name).decoded"]
            let scale = expected.abs().max().item(Float.self)
            assertClose(decoded, expected, tolerance: 1e-4, name)
            print("QwenImageVAE decode \(name): max abs error \(maxAbsDifference(decoded, expected)), scale \(scale)")
        }
    }

    func testLatentNormalisationMatchesThePipelines() throws {
        let g = try golden()
        let model = AutoencoderKLQwenImage(g.config)
        let normalized = model.normalize(g["output.image2.mean"])
        assertClose(normalized, g["pipeline.normalized"], tolerance: 1e-6, "normalize")
        assertClose(model.denormalize(g["input.latents2"]), g["pipeline.denormalized"], tolerance: 1e-6, "denormalize")
        let z = g["input.latents2"]
        assertClose(model.normalize(model.denormalize(z)), z, tolerance: 1e-6, "round trip")
        // The fixture's own statistics are used, not Wan's defaults.
        let wanDefaults = AutoencoderKLQwenImage(AutoencoderKLQwenImageConfig.tiny(from: g.config))
        XCTAssertGreaterThan(maxAbsDifference(wanDefaults.denormalize(z), g["pipeline.denormalized"]), 0.1)
    }

    func testLoadFromFolderAndClearErrors() throws {
        let g = try golden()
        let model = try AutoencoderKLQwenImage.load(from: folder(g, tensors: g.params))
        XCTAssertEqual(model.qwenConfig, g.config)
        assertClose(
            model.decode(g["input.latents2"]), g["output.latents2.decoded"], tolerance: 1e-4, "decode after load")
        // bfloat16 weights keep their dtype unless asked.
        let bf16 = g.params.mapValues { $0.asType(.bfloat16) }
        XCTAssertEqual(
            try AutoencoderKLQwenImage.load(from: folder(g, tensors: bf16)).quantConv.weight.dtype, .bfloat16)
        XCTAssertEqual(
            try AutoencoderKLQwenImage.load(from: folder(g, tensors: bf16), dtype: .float32).quantConv.weight.dtype,
            .float32)

        var incomplete = g.params
        incomplete["decoder.conv_out.bias"] = nil
        XCTAssertThrowsError(try AutoencoderKLQwenImage.load(from: folder(g, tensors: incomplete))) { error in
            XCTAssert("\(error)".contains("missing keys (1): decoder.conv_out.bias"), "\(error)")
        }
        // A config this implementation cannot build names the file and this file's keys.
        let bad = #"{"base_dim": 4, "z_dim": 4, "input_channels": 0, "latents_mean": [0], "attn_scales": [1.0]}"#
        let url = try folder(g, configJSON: bad, tensors: g.params)
        XCTAssertThrowsError(try AutoencoderKLQwenImage.load(from: url)) { error in
            let message = "\(error)"
            XCTAssert(message.contains(url.appendingPathComponent("config.json").path), message)
            for key in ["input_channels: expected a positive size", "latents_mean: expected z_dim 4", "attn_scales"] {
                XCTAssert(message.contains(key), "\(key) not in: \(message)")
            }
            XCTAssertFalse(message.contains("in_channels:") || message.contains("out_channels:"), message)
            XCTAssertEqual(message.components(separatedBy: "input_channels:").count, 2, message)
        }
    }
}

extension AutoencoderKLQwenImageConfig {
    /// `config` with diffusers' default latent statistics cut to its z_dim.
    fileprivate static func tiny(from config: AutoencoderKLQwenImageConfig) -> AutoencoderKLQwenImageConfig {
        var c = config
        let d = AutoencoderKLQwenImageConfig()
        c.latentsMean = Array(d.latentsMean.prefix(c.zDim))
        c.latentsStd = Array(d.latentsStd.prefix(c.zDim))
        return c
    }
}
