import Checkpoints
import Engine
import Sampling
import Foundation
import Models
import NN
import TestSupport
import XCTest

/// The miniature SD folder (tools/goldens/sd_pipeline.py, saved by diffusers' `save_pretrained`, with SD v1.4's own
/// scheduler_config.json) loaded through the same code path as a real checkpoint, against diffusers'
/// StableDiffusionPipeline with a DDIMScheduler, and against DanceGRPO's rollout loop with log-probs.
final class StableDiffusionPipelineTests: XCTestCase {
    struct Run: Decodable { let prompts: [String]; let steps: Int; let guidance: Float; let eta: Float; let size: Int }

    private func golden() throws -> (Run, [String: Tensor]) {
        let file = try SafeTensorsFile(url: Fixture.url("sd_pipeline.safetensors"))
        return (try JSONDecoder().decode(Run.self, from: Data(file.metadata["run"]!.utf8)), try file.tensors())
    }

    private func channelsLast(_ t: Tensor) -> Tensor { t.transposed([0, 2, 3, 1]) }

    func testTokensAndTextEmbeddingsMatch() throws {
        let (run, g) = try golden()
        let pipeline = try StableDiffusionPipeline.load(from: Fixture.url("sd_mini"))
        XCTAssertEqual(pipeline.tokenize(run.prompts).toArray(Int32.self), g["pipeline.ids"]!.toArray(Int32.self))
        XCTAssertEqual(pipeline.tokenize([""]).toArray(Int32.self), g["pipeline.uncond_ids"]!.toArray(Int32.self))
        assertClose(pipeline.encode(run.prompts), g["pipeline.prompt_embeds"]!)
        assertClose(pipeline.unconditionalEmbedding(), g["pipeline.negative_embeds"]!)
        XCTAssertEqual(pipeline.vae.config.scalingFactor, 0.18215)
        XCTAssertEqual(pipeline.schedulerConfig, .stableDiffusionV1)
    }

    func testFourStepDDIMPipelineWithGuidanceFromFixedNoise() throws {
        let (run, g) = try golden()
        let pipeline = try StableDiffusionPipeline.load(from: Fixture.url("sd_mini"))
        let conditional = pipeline.encode(run.prompts), unconditional = pipeline.unconditionalEmbedding()
        var calls = 0
        let trajectory = pipeline.denoise(
            channelsLast(g["pipeline.initial_latents"]!), conditional: conditional,
            unconditional: unconditional, steps: run.steps, guidance: run.guidance, eta: run.eta
        ) { done, total in
            calls += 1
            XCTAssertEqual(done, calls)
            XCTAssertEqual(total, run.steps)
        }
        XCTAssertEqual(trajectory.timesteps, [751, 501, 251, 1])
        let expectedLatents = channelsLast(g["pipeline.final_latents"]!)
        assertClose(trajectory.final, expectedLatents)
        let images = pipeline.decode(trajectory.final)
        XCTAssertEqual(images.shape, [2, run.size, run.size, 3])
        assertClose(images, g["pipeline.images"]!)
        print(
            """
            SD 4-step DDIM pipeline (CFG \(run.guidance), η 0): latents error \
            \(maxAbsDifference(trajectory.final, expectedLatents)) (scale \
            \(expectedLatents.abs().max().item(Float.self))), image error \
            \(maxAbsDifference(images, g["pipeline.images"]!))
            """
        )
    }

    /// DanceGRPO's rollout (pipeline_with_logprob + ddim_step_with_logprob): η = 1, CFG 5, given per-step noise.
    func testRolloutLatentsAndLogProbsMatchTheReference() throws {
        let (run, g) = try golden()
        let pipeline = try StableDiffusionPipeline.load(from: Fixture.url("sd_mini"))
        let noise = g["rollout.noise"]!
        let trajectory = pipeline.denoise(
            channelsLast(g["pipeline.initial_latents"]!), conditional: pipeline.encode(run.prompts),
            unconditional: pipeline.unconditionalEmbedding(), steps: 4, guidance: 5, eta: 1,
            stepNoise: (0..<4).map { channelsLast(noise[$0]) }, keepTrajectory: true)
        XCTAssertEqual(trajectory.latents.count, 5)
        XCTAssertEqual(trajectory.logProbs.count, 4)
        let latents = g["rollout.latents"]!, logProbs = g["rollout.log_probs"]!
        var latentError: Float = 0, logProbError: Float = 0
        for i in 0..<5 {
            assertClose(trajectory.latents[i], channelsLast(latents[i]), "latents \(i)")
            latentError = max(latentError, maxAbsDifference(trajectory.latents[i], channelsLast(latents[i])))
        }
        for i in 0..<4 {
            assertClose(trajectory.logProbs[i], logProbs[i], "log-prob \(i)")
            logProbError = max(logProbError, maxAbsDifference(trajectory.logProbs[i], logProbs[i]))
        }
        print(
            """
            SD rollout (η 1, CFG 5): latents error \(latentError), log-prob error \(logProbError); log-probs \
            \(logProbs.toArray(Float.self))
            """
        )

        // Re-scoring each stored transition with a fresh guided prediction gives ratio 1 (what training computes).
        let scheduler = DDIMScheduler(config: pipeline.schedulerConfig, steps: 4)
        let conditional = pipeline.encode(run.prompts), unconditional = pipeline.unconditionalEmbedding()
        for (i, t) in scheduler.timesteps.enumerated() {
            let eps = pipeline.noisePrediction(
                trajectory.latents[i], timesteps: [t, t], conditional: conditional,
                unconditional: unconditional, guidance: 5)
            let scored = ddimStep(
                scheduler, modelOutput: eps, timesteps: [t, t], sample: trajectory.latents[i], eta: 1,
                previousSample: trajectory.latents[i + 1])
            XCTAssertLessThanOrEqual(maxAbsDifference(scored.logProb, trajectory.logProbs[i]), 1e-5, "step \(i)")
        }
    }

    func testMissingPartsAreListedInOneError() throws {
        let folder = try temporaryDirectory(self)
        try FileManager.default.copyItem(at: Fixture.url("sd_mini/vae"), to: folder.appendingPathComponent("vae"))
        XCTAssertThrowsError(try StableDiffusionPipeline.load(from: folder)) { error in
            XCTAssert("\(error)".contains("missing unet, scheduler, text_encoder, tokenizer"), "\(error)")
        }
    }

    func testUNetOverrideFromACheckpointFolder() throws {
        let folder = try temporaryDirectory(self)
        let checkpoint = folder.appendingPathComponent("checkpoint-2-0")
        try FileManager.default.createDirectory(at: checkpoint, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Fixture.url("sd_mini/unet"), to: checkpoint.appendingPathComponent("unet"))
        let weights = checkpoint.appendingPathComponent("unet/diffusion_pytorch_model.safetensors")
        var tensors = try SafeTensors.load(weights)
        tensors["conv_out.bias"] = Tensor.full(tensors["conv_out.bias"]!.shape, 7)
        try SafeTensors.save(tensors, to: weights)
        let pipeline = try StableDiffusionPipeline.load(
            from: Fixture.url("sd_mini"), loadTextEncoder: false, unetFolder: checkpoint)
        XCTAssertEqual(pipeline.unet.convOut.bias!.toArray(Float.self).first, 7)
        XCTAssertNil(pipeline.textEncoder)
    }
}
