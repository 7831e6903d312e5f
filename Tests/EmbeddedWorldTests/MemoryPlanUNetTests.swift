import Engine
import EmbeddedWorld
import Foundation
import GRPO
import NN
import Sampling
import Training
import XCTest

/// The UNet activation estimate (``ActivationEstimate/unet(pixels:channels:layers:attentionLevels:heads:)``, through
/// ``StableDiffusionWorldTask/activationEstimate(folder:settings:)`` on a written world folder) against the engine's
/// measured peak of a training pass on the embedded UNet world model, with and without checkpointing.
final class MemoryPlanUNetTests: XCTestCase {
    func testUNetPlanIsWithin15PercentOfTheMeasuredPeak() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("unet-plan-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = StableDiffusionWorldModel.create(seed: 4)
        try model.writeFolder(to: folder)
        let estimate = try XCTUnwrap(
            try StableDiffusionWorldTask.activationEstimate(folder: folder, settings: TaskSettings()))
        for checkpointing in [false, true] {
            let task = StableDiffusionWorldTask(model: model)
            let unet = model.unet
            unet.gradientCheckpointing = checkpointing
            let rows = 4
            let policy = task.policy(reference: nil)
            let optimizer = AdamW(model: unet, learningRate: 1e-5, weightDecay: 1e-4)
            let prompts = try task.trainingPrompts(count: rows, iteration: 0, seed: 1).map(\.text)
            let conditioning = try task.conditioning(prompts)
            var rolloutConfig = RolloutConfig()
            rolloutConfig.process = task.chain.process(steps: 3, shift: 3, sampler: .ddim(eta: 1))
            rolloutConfig.batchSize = rows
            let trajectories = rollout(
                policy: policy, conditioning: conditioning, latentShape: task.latentShape, config: rolloutConfig,
                key: RandomKey(seed: 2))
            eval([trajectories.latents, trajectories.logProbs])
            var update = UpdateConfig()
            update.timestepFraction = 0.5
            update.gradientAccumulationSteps = rows
            update.transitionBatchSize = rows
            let advantages = (0..<rows).map { Float($0) - 1.5 }
            _ = try updatePolicy(
                policy: policy, optimizer: optimizer, rollout: trajectories, conditioning: conditioning,
                advantages: advantages, config: update, key: RandomKey(seed: 3))
            Memory.clearCache()
            Memory.resetPeak()
            let before = Memory.active
            _ = try updatePolicy(
                policy: policy, optimizer: optimizer, rollout: trajectories, conditioning: conditioning,
                advantages: advantages, config: update, key: RandomKey(seed: 5))
            let peak = Memory.peak
            var inputs = MemoryPlan.Inputs(trainableParameters: unet.parameterCount())
            inputs.gradientCheckpointing = checkpointing
            inputs.transitionsPerCall = rows
            inputs.activations = estimate
            let plan = MemoryPlan(inputs)
            // What the weights and moments held before the pass leave for the pass itself, against the plan's.
            let measured = peak - before
            let planned = plan.total - 12 * inputs.trainableParameters
            if ProcessInfo.processInfo.environment["DANCEGRPO_CALIBRATE"] != nil {
                let perRow = Double(measured - 8 * inputs.trainableParameters) / 4 / Double(rows)
                print(
                    """
                    calibrate unet ckpt \(checkpointing): P \(inputs.trainableParameters) measured pass \(measured) \
                    planned \(planned) per row elements \(Int(perRow)) estimate stored \(estimate.stored) \
                    checkpointed \(estimate.checkpointed)
                    """)
            }
            XCTAssertLessThan(
                abs(Double(planned - measured) / Double(measured)), 0.15,
                "checkpointing \(checkpointing): planned \(planned), measured \(measured) (peak \(peak), "
                    + "before \(before))")
        }
    }
}
