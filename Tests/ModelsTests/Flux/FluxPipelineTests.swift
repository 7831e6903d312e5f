import Checkpoints
import Engine
import Sampling
import Foundation
import Models
import NN
import TestSupport
import XCTest

/// The miniature FLUX folder (tools/goldens/flux_pipeline.py, saved by diffusers' `save_pretrained`) loaded through
/// the same code path as a real checkpoint, against diffusers' FluxPipeline.
final class FluxPipelineTests: XCTestCase {
    struct Run: Decodable {
        let prompts: [String]; let steps: Int; let guidance: Float; let size: Int; let max_sequence_length: Int
    }

    private func golden() throws -> (Run, [String: Tensor]) {
        let file = try SafeTensorsFile(url: Fixture.url("flux_pipeline.safetensors"))
        return (try JSONDecoder().decode(Run.self, from: Data(file.metadata["run"]!.utf8)), try file.tensors())
    }

    func testTokenizersAndTextEncodersMatch() throws {
        let (run, g) = try golden()
        let pipeline = try FluxPipeline.load(from: Fixture.url("flux_mini"))
        let encoders = try XCTUnwrap(pipeline.textEncoders)
        let ids = encoders.tokenize(run.prompts, maxSequenceLength: run.max_sequence_length)
        XCTAssertEqual(ids.clip.toArray(Int32.self), g["clip_ids"]!.toArray(Int32.self))
        XCTAssertEqual(ids.t5.toArray(Int32.self), g["t5_ids"]!.toArray(Int32.self))
        let embeddings = encoders.encode(run.prompts, maxSequenceLength: run.max_sequence_length)
        assertClose(embeddings.promptEmbeds, g["prompt_embeds"]!)
        assertClose(embeddings.pooledPromptEmbeds, g["pooled_prompt_embeds"]!)
    }

    func testFourStepPipelineFromFixedNoise() throws {
        let (run, g) = try golden()
        let pipeline = try FluxPipeline.load(from: Fixture.url("flux_mini"))
        let embeddings = pipeline.textEncoders!.encode(run.prompts, maxSequenceLength: run.max_sequence_length)
        var calls = 0
        let latents = pipeline.denoise(
            g["initial_latents"]!, embeddings: embeddings, height: run.size, width: run.size,
            steps: run.steps, guidance: run.guidance
        ) { done, total in
            calls += 1
            XCTAssertEqual(total, run.steps)
            XCTAssertEqual(done, calls)
        }
        assertClose(latents, g["final_latents"]!)
        let images = pipeline.decode(latents, height: run.size, width: run.size)
        // The golden is [B, 3, H, W]; the pipeline's images are channels-last.
        assertClose(images, g["images"]!.transposed([0, 2, 3, 1]))
        print(
            """
            FLUX 4-step pipeline: latents error \(maxAbsDifference(latents, g["final_latents"]!)), image error \
            \(maxAbsDifference(images, g["images"]!.transposed([0, 2, 3, 1])))
            """
        )
    }

    func testBFloat16WeightsRun() throws {
        let (run, g) = try golden()
        let full = try FluxPipeline.load(from: Fixture.url("flux_mini"))
        let half = try FluxPipeline.load(from: Fixture.url("flux_mini"), dtype: .bfloat16)
        XCTAssertEqual(half.transformer.xEmbedder.weight.dtype, .bfloat16)
        let embeddings = full.textEncoders!.encode(run.prompts, maxSequenceLength: run.max_sequence_length)
        let a = full.denoise(
            g["initial_latents"]!, embeddings: embeddings, height: run.size, width: run.size, steps: run.steps,
            guidance: run.guidance)
        let b = half.denoise(
            g["initial_latents"]!, embeddings: embeddings, height: run.size, width: run.size, steps: run.steps,
            guidance: run.guidance)
        let difference = maxAbsDifference(a, b), scale = a.abs().max().item(Float.self)
        print("FLUX bf16 vs fp32 final latents: max abs difference \(difference) (scale \(scale))")
        // bf16 keeps 8 significant bits (relative rounding 2⁻⁹ per op); four steps through the network stay within
        // 5%.
        XCTAssertLessThan(difference, 0.05 * scale)
        XCTAssertGreaterThan(difference, 0, "bf16 weights should change the result a little")
    }

    func testFolderProblemsAreNamed() throws {
        let folder = try temporaryDirectory(self)
        XCTAssertThrowsError(try FluxPipeline.load(from: folder)) {
            XCTAssert("\($0)".contains("missing transformer"), "\($0)")
        }
        // A transformer checkpoint with a renamed key, an extra key and a wrong shape.
        let source = Fixture.url("flux_mini")
        for part in ["vae", "scheduler", "transformer"] {
            try FileManager.default.copyItem(
                at: source.appendingPathComponent(part), to: folder.appendingPathComponent(part))
        }
        let weights = folder.appendingPathComponent("transformer/diffusion_pytorch_model.safetensors")
        var tensors = try SafeTensors.load(weights)
        tensors["x_embedder.bias_renamed"] = tensors.removeValue(forKey: "x_embedder.bias")
        tensors["proj_out.weight"] = Tensor.zeros([3, 3])
        try SafeTensors.save(tensors, to: weights)
        XCTAssertThrowsError(try FluxPipeline.load(from: folder, loadTextEncoders: false)) { error in
            let text = "\(error)"
            XCTAssert(
                text.contains("x_embedder.bias") && text.contains("x_embedder.bias_renamed")
                    && text.contains("proj_out.weight: expected [16, 16], found [3, 3]"), text)
        }
        // A truncated shard.
        let data = try Data(contentsOf: weights)
        try data.prefix(data.count / 2).write(to: weights)
        XCTAssertThrowsError(try FluxPipeline.load(from: folder, loadTextEncoders: false)) { error in
            XCTAssert(
                "\(error)".contains("truncated") && "\(error)".contains("diffusion_pytorch_model.safetensors"),
                "\(error)")
        }
    }
}

extension FluxPipelineTests {
    /// `--transformer` takes a training checkpoint folder (with `transformer/` inside) as well as a transformer folder.
    func testTransformerOverrideFromACheckpointFolder() throws {
        let folder = try temporaryDirectory(self)
        let checkpoint = folder.appendingPathComponent("checkpoint-3-0")
        try FileManager.default.createDirectory(at: checkpoint, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            at: Fixture.url("flux_mini/transformer"), to: checkpoint.appendingPathComponent("transformer"))
        let weights = checkpoint.appendingPathComponent("transformer/diffusion_pytorch_model.safetensors")
        var tensors = try SafeTensors.load(weights)
        tensors["proj_out.bias"] = Tensor.full(tensors["proj_out.bias"]!.shape, 7)
        try SafeTensors.save(tensors, to: weights)
        let pipeline = try FluxPipeline.load(
            from: Fixture.url("flux_mini"), loadTextEncoders: false, transformerFolder: checkpoint)
        XCTAssertEqual(pipeline.transformer.projOut.bias!.toArray(Float.self).first, 7)
    }
}
