import Checkpoints
import Engine
import Foundation
import Models
import NN
import TestSupport
import XCTest

/// Parity with diffusers' FluxTransformer2DModel on a tiny random config (tools/goldens/flux_transformer.py).
final class FluxTransformerTests: XCTestCase {
    private func golden() throws -> (FluxConfig, [String: Tensor], [String: Tensor]) {
        let file = try SafeTensorsFile(url: Fixture.url("flux_transformer.safetensors"))
        let config = try JSONDecoder().decode(FluxConfig.self, from: Data(file.metadata["config"]!.utf8))
        let all = try file.tensors()
        var params: [String: Tensor] = [:]
        for (k, v) in all where k.hasPrefix("param.") { params[String(k.dropFirst(6))] = v }
        return (config, params, all)
    }

    private func forward(_ model: FluxTransformer2DModel, _ g: [String: Tensor]) -> Tensor {
        model(
            hiddenStates: g["input.hidden_states"]!, encoderHiddenStates: g["input.encoder_hidden_states"]!,
            pooled: g["input.pooled_projections"]!, timestep: g["input.timestep"]!, imageIds: g["input.img_ids"]!,
            textIds: g["input.txt_ids"]!, guidance: g["input.guidance"]!)
    }

    func testForwardMatchesDiffusers() throws {
        let (config, params, g) = try golden()
        let model = FluxTransformer2DModel(config)
        // Strict: every diffusers key has a Swift parameter and the other way round.
        try model.load(params)
        XCTAssertEqual(model.parameterCount(), params.values.reduce(0) { $0 + $1.count })
        let out = forward(model, g)
        assertClose(out, g["output.sample"]!, tolerance: 1e-4)
        print("FLUX transformer parity: max abs error \(maxAbsDifference(out, g["output.sample"]!))")
    }

    func testGradientCheckpointingKeepsOutputsAndGradients() throws {
        let (config, params, g) = try golden()
        let model = FluxTransformer2DModel(config)
        try model.load(params)
        func lossAndGrads() -> (Float, [String: Tensor]) {
            let (values, grads) = valueAndGrad(model: model) { [self.forward(model, g).square().mean()] }
            return (values[0].item(Float.self), grads)
        }
        let (plainLoss, plainGrads) = lossAndGrads()
        model.gradientCheckpointing = true
        let (checkpointedLoss, checkpointedGrads) = lossAndGrads()
        XCTAssertEqual(plainLoss, checkpointedLoss, accuracy: 1e-6)
        XCTAssertEqual(Set(plainGrads.keys), Set(checkpointedGrads.keys))
        for key in [
            "transformer_blocks.0.attn.to_q.weight", "single_transformer_blocks.1.proj_out.weight", "x_embedder.weight",
            "time_text_embed.guidance_embedder.linear_1.weight"
        ] {
            assertClose(checkpointedGrads[key]!, plainGrads[key]!, tolerance: 1e-5, key)
        }
    }

    func testPackingAndImageIdsMatchThePipeline() throws {
        let (_, _, g) = try golden()
        let nchw = g["pack.latents_nchw"]!
        let packed = FluxLatents.pack(nchw.transposed([0, 2, 3, 1]))
        assertClose(packed, g["pack.packed"]!, tolerance: 0)
        assertClose(
            FluxLatents.unpack(packed, height: nchw.dim(2), width: nchw.dim(3)), nchw.transposed([0, 2, 3, 1]),
            tolerance: 0)
        assertClose(FluxLatents.imageIds(height: nchw.dim(2), width: nchw.dim(3)), g["pack.image_ids"]!, tolerance: 0)
        XCTAssertEqual(FluxLatents.latentSize(imageHeight: 720, imageWidth: 720).height, 90)
    }

    func testConfigErrorsNameTheFile() throws {
        let folder = try temporaryDirectory(self)
        try Data(#"{"attention_head_dim": 8, "axes_dims_rope": [2, 2, 2]}"#.utf8).write(
            to: folder.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try FluxConfig.load(folder)) { XCTAssert("\($0)".contains("axes_dims_rope"), "\($0)") }
    }
}
