import Checkpoints
import Engine
import Sampling
import Foundation
import TestSupport
import XCTest

/// The DDIM step with log-probability against a PyTorch transcription of ddpo-pytorch's
/// `ddim_step_with_logprob` (tools/goldens/sd_pipeline.py), on SD v1.4's scheduler and on a v-prediction config.
final class DDIMStepTests: XCTestCase {
    private func golden() throws -> (metadata: [String: String], tensors: [String: Tensor]) {
        let file = try SafeTensorsFile(url: Fixture.url("sd_pipeline.safetensors"))
        return (file.metadata, try file.tensors())
    }

    private var sd14: DDIMScheduler.Config {
        get throws { try DDIMScheduler.Config.load(Fixture.url("sd_mini/scheduler")) }
    }

    func testStableDiffusionSchedulerFileReadsAsDDPOUsesIt() throws {
        let config = try sd14
        XCTAssertEqual(config, DDIMScheduler.Config.stableDiffusionV1)
        let g = try golden().tensors
        let scheduler = DDIMScheduler(config: config, steps: 50)
        assertClose(Tensor(scheduler.alphasCumprod), g["scheduler.alphas_cumprod"]!, tolerance: 1e-6)
        print(
            """
            DDIM ᾱ table: max abs error \
            \(maxAbsDifference(Tensor(scheduler.alphasCumprod), g["scheduler.alphas_cumprod"]!))
            """
        )
        XCTAssertEqual(scheduler.timesteps, g["scheduler.timesteps_50"]!.toArray(Int32.self).map(Int.init))
        // Spec §3: 981, 961, …, 21, 1 and t_prev = clamp(t − 20, 0, 999).
        XCTAssertEqual(scheduler.timesteps.first, 981)
        XCTAssertEqual(scheduler.timesteps.last, 1)
        XCTAssertEqual(scheduler.previousTimestep(1), 0)
        XCTAssertEqual(scheduler.previousTimestep(981), 961)
        XCTAssertEqual(scheduler.finalAlphaCumprod, scheduler.alphasCumprod[0])
        XCTAssertEqual(
            DDIMScheduler(config: config, steps: 4).timesteps,
            g["scheduler.timesteps_4"]!.toArray(Int32.self).map(Int.init))
    }

    private func checkStep(_ prefix: String, scheduler: DDIMScheduler, _ g: [String: Tensor]) {
        let timesteps = g["\(prefix).timesteps"]!.toArray(Int32.self).map(Int.init)
        let output = g["\(prefix).model_output"]!, sample = g["\(prefix).sample"]!
        let drawn = ddimStep(
            scheduler, modelOutput: output, timesteps: timesteps, sample: sample, eta: 1, noise: g["\(prefix).noise"]!)
        assertClose(drawn.predictedOriginal, g["\(prefix).pred_original"]!, "\(prefix) x̂0")
        assertClose(drawn.mean, g["\(prefix).mean"]!, "\(prefix) mean")
        assertClose(drawn.sample, g["\(prefix).prev_sample"]!, "\(prefix) sample")
        assertClose(drawn.logProb, g["\(prefix).log_prob"]!, "\(prefix) log-prob")
        let given = ddimStep(
            scheduler, modelOutput: output, timesteps: timesteps, sample: sample, eta: 1,
            previousSample: g["\(prefix).given_prev_sample"]!)
        assertClose(given.logProb, g["\(prefix).given_log_prob"]!, "\(prefix) log-prob of a given sample")
        print(
            """
            DDIM step \(prefix) (t = \(timesteps)): sample error \
            \(maxAbsDifference(drawn.sample, g["\(prefix).prev_sample"]!)), log-prob error \
            \(maxAbsDifference(drawn.logProb, g["\(prefix).log_prob"]!)) (drawn), \
            \(maxAbsDifference(given.logProb, g["\(prefix).given_log_prob"]!)) (given); log-probs \
            \(given.logProb.toArray(Float.self))
            """
        )
    }

    func testStepMatchesDDPOOnStableDiffusion() throws {
        let g = try golden().tensors
        checkStep("step", scheduler: DDIMScheduler(config: try sd14, steps: 50), g)
    }

    func testStepMatchesDDPOWithVPredictionClippingAndTrailingSpacing() throws {
        let (metadata, g) = try golden()
        let config = try JSONDecoder().decode(DDIMScheduler.Config.self, from: Data(metadata["step_v_config"]!.utf8))
        XCTAssertEqual(config.predictionType.rawValue, "v_prediction")
        XCTAssertTrue(config.clipSample && config.setAlphaToOne)
        let scheduler = DDIMScheduler(config: config, steps: 10)
        XCTAssertEqual(scheduler.timesteps, g["step_v.scheduler_timesteps"]!.toArray(Int32.self).map(Int.init))
        XCTAssertEqual(scheduler.finalAlphaCumprod, 1)
        checkStep("step_v", scheduler: scheduler, g)
    }

    /// The ratio-is-one property GRPO relies on: scoring the stored sample of a rollout step with the same network
    /// output reproduces the log-prob recorded when it was drawn.
    func testScoringTheDrawnSampleReproducesItsLogProb() throws {
        let scheduler = DDIMScheduler(config: .stableDiffusionV1, steps: 50)
        let keys = RandomKey(seed: 3).split(into: 3)
        let x = Random.normal([3, 8, 8, 4], key: keys[0]), eps = Random.normal([3, 8, 8, 4], key: keys[1])
        let noise = Random.normal([3, 8, 8, 4], key: keys[2])
        let timesteps = [981, 501, 1]
        let drawn = ddimStep(scheduler, modelOutput: eps, timesteps: timesteps, sample: x, eta: 1, noise: noise)
        eval(drawn.sample)
        let scored = ddimStep(
            scheduler, modelOutput: eps, timesteps: timesteps, sample: x, eta: 1, previousSample: drawn.sample)
        let difference = maxAbsDifference(scored.logProb, drawn.logProb)
        print("DDIM re-scored log-prob: max difference \(difference); ratio exp(Δ) − 1 = \(expm1(difference))")
        XCTAssertLessThanOrEqual(difference, 1e-6)
        // With the drawn noise z: log p = mean(−z²/2) − log std − log √(2π), per sample.
        let z = noise.toArray(Float.self), per = z.count / 3
        for b in 0..<3 {
            let expected =
                z[(b * per)..<((b + 1) * per)].map { -$0 * $0 / 2 }.reduce(0, +) / Float(per)
                - logf(drawn.std[b]) - 0.5 * logf(2 * .pi)
            XCTAssertEqual(drawn.logProb.toArray(Float.self)[b], expected, accuracy: 2e-4, "sample \(b)")
        }
        // One timestep for the batch is the same as repeating it.
        let shared = ddimStep(
            scheduler, modelOutput: eps, timesteps: [501], sample: x, eta: 1, previousSample: drawn.sample)
        let repeated = ddimStep(
            scheduler, modelOutput: eps, timesteps: [501, 501, 501], sample: x, eta: 1, previousSample: drawn.sample)
        assertClose(shared.logProb, repeated.logProb, tolerance: 0)
    }

    /// Training differentiates the log-prob of a stored sample with respect to the network output (through the mean).
    func testLogProbGradientReachesTheModelOutput() {
        let scheduler = DDIMScheduler(config: .stableDiffusionV1, steps: 50)
        let keys = RandomKey(seed: 4).split(into: 3)
        let x = Random.normal([2, 4, 4, 4], key: keys[0]), eps = Random.normal([2, 4, 4, 4], key: keys[1])
        let next = Random.normal([2, 4, 4, 4], key: keys[2])
        let function = valueAndGrad { (inputs: [Tensor]) -> [Tensor] in
            [
                ddimStep(scheduler, modelOutput: inputs[0], timesteps: [501], sample: x, eta: 1, previousSample: next)
                    .logProb.sum()
            ]
        }
        let (_, gradients) = function([eps])
        // d log p / d ε = (x' − μ)/std² · dμ/dε / D, dμ/dε = −√ᾱ_prev·√(1−ᾱ_t)/√ᾱ_t + √(1
        // − ᾱ_prev − std²).
        let out = ddimStep(scheduler, modelOutput: eps, timesteps: [501], sample: x, eta: 1, previousSample: next)
        let a = scheduler.alphaCumprod(501), p = scheduler.alphaCumprod(481), s = out.std[0]
        let dMean = -p.squareRoot() * (1 - a).squareRoot() / a.squareRoot() + (1 - p - s * s).squareRoot()
        let expected = (next - out.mean) / (s * s) * dMean / Float(4 * 4 * 4)
        assertClose(gradients[0], expected, tolerance: 1e-4)
    }

    func testEtaZeroIsDeterministicWithZeroLogProb() {
        let scheduler = DDIMScheduler(config: .stableDiffusionV1, steps: 4)
        let x = Random.normal([2, 4, 4, 4], key: RandomKey(seed: 5)),
            eps = Random.normal([2, 4, 4, 4], key: RandomKey(seed: 6))
        let out = ddimStep(scheduler, modelOutput: eps, timesteps: [751], sample: x, eta: 0)
        assertClose(out.sample, out.mean, tolerance: 0)
        XCTAssertEqual(out.std, [0, 0])
        XCTAssertEqual(out.logProb.toArray(Float.self), [0, 0])
    }

    func testConfigProblemsNameTheFileAndKey() throws {
        let folder = try temporaryDirectory(self)
        let file = folder.appendingPathComponent("scheduler_config.json")
        try Data(
            #"""
            {"_class_name": "DDIMScheduler", "prediction_type": "flow", "timestep_spacing": "karras", "thresholding": \#
            true}
            """#
            .utf8
        ).write(to: file)
        XCTAssertThrowsError(try DDIMScheduler.Config.load(folder)) { error in
            let text = "\(error)"
            XCTAssert(
                text.contains(file.path) && text.contains("prediction_type 'flow'")
                    && text.contains("timestep_spacing 'karras'")
                    && text.contains("thresholding"), text)
        }
    }
}
