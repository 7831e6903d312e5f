import Checkpoints
import Engine
import Foundation
import Models
import NN
import TestSupport
import XCTest

/// Stable Diffusion's UNet against diffusers' `UNet2DConditionModel` (tools/goldens/sd_pipeline.py): the miniature
/// folder's UNet (1×1-convolution projections, per-block head counts) and a second config exercising the other
/// supported options (linear projections, two transformer layers, only-cross-attention, list-valued sizes, …).
final class UNet2DConditionModelTests: XCTestCase {
    private func golden() throws -> (metadata: [String: String], tensors: [String: Tensor]) {
        let file = try SafeTensorsFile(url: Fixture.url("sd_pipeline.safetensors"))
        return (file.metadata, try file.tensors())
    }

    /// NCHW (diffusers) → NHWC (this package).
    private func channelsLast(_ t: Tensor) -> Tensor { t.transposed([0, 2, 3, 1]) }

    func testMiniatureUNetMatchesDiffusers() throws {
        let g = try golden().tensors
        let unet = try UNet2DConditionModel.load(from: Fixture.url("sd_mini/unet"))
        XCTAssertEqual(unet.config.blockOutChannels, [16, 16, 32])
        XCTAssertEqual(unet.config.heads, [2, 2, 4])
        XCTAssertTrue(
            unet.namedSlots().contains {
                $0.key == "down_blocks.0.attentions.0.transformer_blocks.0.ff.net.0.proj.weight"
            })
        let output = unet(
            channelsLast(g["unet.sample"]!), timesteps: g["unet.timesteps"]!, encoderHiddenStates: g["unet.context"]!)
        assertClose(output, channelsLast(g["unet.output"]!))
        print(
            "SD UNet (mini): max abs error \(maxAbsDifference(output, channelsLast(g["unet.output"]!))), "
                + "output scale \(g["unet.output"]!.abs().max().item(Float.self))")
    }

    func testLinearProjectionVariantMatchesDiffusers() throws {
        let (metadata, g) = try golden()
        let config = try JSONDecoder().decode(UNet2DConditionConfig.self, from: Data(metadata["unet_b_config"]!.utf8))
        XCTAssertTrue(config.useLinearProjection)
        XCTAssertEqual(config.transformerLayers, [2, 2])
        XCTAssertEqual(config.onlyCrossAttentions, [true, true])  // the mid block ignores it, as in diffusers
        XCTAssertEqual(config.layers, [1, 2])
        XCTAssertEqual(config.timeEmbeddingChannels, 24)
        let unet = UNet2DConditionModel(config)
        var weights: [String: Tensor] = [:]
        for (key, value) in g where key.hasPrefix("unet_b.weights.") {
            weights[String(key.dropFirst("unet_b.weights.".count))] = value
        }
        try unet.load(weights, source: "sd_pipeline.safetensors unet_b")
        let output = unet(
            channelsLast(g["unet_b.sample"]!), timesteps: g["unet_b.timesteps"]!,
            encoderHiddenStates: g["unet_b.context"]!)
        assertClose(output, channelsLast(g["unet_b.output"]!))
        print(
            """
            SD UNet (linear-projection variant): max abs error \
            \(maxAbsDifference(output, channelsLast(g["unet_b.output"]!)))
            """
        )
    }

    func testGradientCheckpointingGivesTheSameGradients() throws {
        let g = try golden().tensors
        let unet = try UNet2DConditionModel.load(from: Fixture.url("sd_mini/unet"))
        let x = channelsLast(g["unet.sample"]!), t = g["unet.timesteps"]!, context = g["unet.context"]!
        func gradients() -> [String: Tensor] {
            valueAndGrad(model: unet) { [unet(x, timesteps: t, encoderHiddenStates: context).square().mean()] }
                .gradients
        }
        let plain = gradients()
        unet.gradientCheckpointing = true
        let checkpointed = gradients()
        XCTAssertEqual(plain.count, unet.trainableParameters().count)
        for (key, gradient) in plain { assertClose(checkpointed[key]!, gradient, tolerance: 1e-5, key) }
    }

    func testUnsupportedOptionsNameTheFileAndKeys() throws {
        let folder = try temporaryDirectory(self)
        var object =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: Fixture.url("sd_mini/unet/config.json"))) as! [String: Any]
        object["down_block_types"] = ["CrossAttnDownBlock2D", "AttnDownBlock2D", "DownBlock2D"]
        object["class_embed_type"] = "timestep"
        object["resnet_time_scale_shift"] = "scale_shift"
        let file = folder.appendingPathComponent("config.json")
        try JSONSerialization.data(withJSONObject: object).write(to: file)
        XCTAssertThrowsError(try UNet2DConditionModel.load(from: folder)) { error in
            let text = "\(error)"
            XCTAssert(text.contains(file.path), text)
            XCTAssert(text.contains("down_block_types[1] 'AttnDownBlock2D' is not supported"), text)
            XCTAssert(text.contains("class_embed_type timestep is not supported"), text)
            XCTAssert(text.contains("resnet_time_scale_shift scale_shift is not supported"), text)
        }
        // Per-block lists of the wrong length.
        object =
            try JSONSerialization.jsonObject(with: Data(contentsOf: Fixture.url("sd_mini/unet/config.json")))
            as! [String: Any]
        object["attention_head_dim"] = [2, 4]
        try JSONSerialization.data(withJSONObject: object).write(to: file)
        XCTAssertThrowsError(try UNet2DConditionConfig.load(folder)) { error in
            XCTAssert("\(error)".contains("attention_head_dim has 2 entries, expected one per block (3)"), "\(error)")
        }
    }

    func testStableDiffusionV1DefaultsAreTheReleasedSizes() {
        // diffusers' defaults are SD v1's UNet; its config.json (CompVis/stable-diffusion-v1-4) lists the same values.
        let c = UNet2DConditionConfig()
        XCTAssertEqual(c.blockOutChannels, [320, 640, 1280, 1280])
        XCTAssertEqual(c.heads, [8, 8, 8, 8])
        XCTAssertEqual(c.crossAttentionDims, [1280, 1280, 1280, 1280])
        XCTAssertTrue(c.problems().isEmpty)
        XCTAssertEqual(c.timeEmbeddingChannels, 1280)
    }
}
