import Checkpoints
import Engine
import Sampling
import Foundation
import GRPO
import Imaging
import Models
import NN
import TestSupport
import Training
import XCTest

/// `StableDiffusionTask` on the tiny SD folder of the model tests (`sd_mini`: 3-level UNet, VAE factor 2, 32-wide
/// CLIP text encoder), at 16 px: 8×8×4 latents.
final class StableDiffusionTaskTests: XCTestCase {
    private let promptLines = [
        "a red circle", "", "  two blue squares  ", "an astronaut riding a horse", "a green triangle",
        "three yellow circles"
    ]

    private func promptFile() throws -> URL {
        let url = try temporaryDirectory(self).appendingPathComponent("prompts.txt")
        try promptLines.joined(separator: "\n").write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    private func makeTask(resolution: Int = 16) throws -> StableDiffusionTask {
        try StableDiffusionTask(folder: Fixture.url("sd_mini"), promptFile: try promptFile(), resolution: resolution)
    }

    func testConditioningChainAndLatents() throws {
        let task = try makeTask()
        XCTAssertEqual(task.networkFolderName, "unet")
        XCTAssertTrue(task.network === task.pipeline.unet)
        XCTAssertEqual(task.chain, .ddim(task.pipeline.schedulerConfig))
        XCTAssertEqual(task.latentShape, [8, 8, 4])
        let cond = try task.conditioning(["a red circle", "two blue squares"])
        XCTAssertEqual(cond.count, 2)
        XCTAssertEqual(cond[UNetPolicy.textStatesKey].shape, [2, 77, 32])
        XCTAssertEqual(
            cond[UNetPolicy.textStatesKey].toArray(Float.self),
            task.pipeline.encode(["a red circle", "two blue squares"]).toArray(Float.self))
        // Cached rows are reused in any order.
        let again = try task.conditioning(["two blue squares", "a red circle"])
        XCTAssertEqual(
            again[UNetPolicy.textStatesKey][0].toArray(Float.self),
            cond[UNetPolicy.textStatesKey][1].toArray(Float.self))
        XCTAssertEqual(try task.conditioning([""])[UNetPolicy.textStatesKey].shape, [1, 77, 32])
        XCTAssertTrue(task.summary.contains("8×8×4"), task.summary)
    }

    /// The policy is the UNet's ε; `reference` evaluates the snapshot, not the current weights.
    func testPolicyAndReference() throws {
        let task = try makeTask()
        let reference = ReferenceWeights(snapshotOf: task.network)
        let policy = task.policy(reference: reference)
        let x = Random.normal([2, 8, 8, 4], key: RandomKey(seed: 1))
        let t = Tensor([981, 501] as [Float])
        let cond = try task.conditioning(["a red circle", "a green triangle"])
        let expected = task.pipeline.unet(x, timesteps: t, encoderHiddenStates: cond[UNetPolicy.textStatesKey])
        XCTAssertEqual(
            policy.modelOutput(x, timesteps: t, conditioning: cond).toArray(Float.self), expected.toArray(Float.self))
        task.pipeline.unet.convOut.weight = task.pipeline.unet.convOut.weight + 0.5
        XCTAssertGreaterThan(maxAbsDifference(policy.modelOutput(x, timesteps: t, conditioning: cond), expected), 1e-3)
        assertClose(try policy.referenceOutput(x, timesteps: t, conditioning: cond), expected, tolerance: 1e-6)
    }

    /// Decoding is the pipeline's, then uint8 by truncation (`(x·255).astype(uint8)`), not rounding.
    func testImagesDecodeAndTruncate() throws {
        let task = try makeTask()
        let latents = Random.normal([2, 8, 8, 4], key: RandomKey(seed: 2))
        let images = try task.images(latents)
        XCTAssertEqual(images.count, 2)
        XCTAssertEqual(images[1].width, 16)
        XCTAssertEqual(images[1].height, 16)
        let pixels = task.pipeline.decode(latents).toArray(Float.self)
        let expected = pixels[(16 * 16 * 3)...].map { UInt8(($0 * 255).rounded(.towardZero)) }
        XCTAssertEqual(images[1].pixels, Array(expected))
        XCTAssertNotEqual(
            images[1].pixels, pixels[(16 * 16 * 3)...].map { UInt8(($0 * 255).rounded()) },
            "rounding would differ somewhere")
    }

    /// `saveNetwork` writes `unet/` in diffusers layout, which loads back strictly (and through `loadNetwork`).
    func testSaveNetworkRoundTrip() throws {
        let task = try makeTask()
        let folder = try temporaryDirectory(self)
        try task.saveNetwork(to: folder)
        let config =
            try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("unet/config.json")))
            as! [String: Any]
        XCTAssertEqual(config["_class_name"] as? String, "UNet2DConditionModel")
        XCTAssertEqual(config["block_out_channels"] as? [Int], [16, 16, 32])
        let loaded = try UNet2DConditionModel.load(from: folder.appendingPathComponent("unet"))
        XCTAssertEqual(loaded.config, task.pipeline.unet.config)
        let original = task.pipeline.unet.parameters()
        for (key, value) in loaded.parameters() {
            XCTAssertEqual(value.toArray(Float.self), original[key]!.toArray(Float.self), key)
        }
        // Resume path: change the weights, then read the saved ones back.
        let before = task.pipeline.unet.convIn.weight.toArray(Float.self)
        task.pipeline.unet.convIn.weight = task.pipeline.unet.convIn.weight * 2
        try task.loadNetwork(from: folder)
        XCTAssertEqual(task.pipeline.unet.convIn.weight.toArray(Float.self), before)
    }

    func testPromptsFromTheFile() throws {
        let task = try makeTask()
        let texts = [
            "a red circle", "two blue squares", "an astronaut riding a horse", "a green triangle",
            "three yellow circles"
        ]
        XCTAssertEqual(task.trainingPromptFile.prompts, texts, "blank lines skipped, whitespace trimmed")
        // Epoch-wise shuffles: the first five positions visit every prompt once; the same (seed, iteration) gives
        // the same prompts.
        let iterations = (0..<5).map { try! task.trainingPrompts(count: 2, iteration: $0, seed: 7).map(\.text) }
        XCTAssertEqual(Set(iterations.joined().prefix(5)), Set(texts))
        XCTAssertEqual(Set(iterations.joined().suffix(5)), Set(texts))
        XCTAssertEqual(try task.trainingPrompts(count: 2, iteration: 3, seed: 7).map(\.text), iterations[3])
        let otherSeed = (0..<5).map { try! task.trainingPrompts(count: 2, iteration: $0, seed: 8).map(\.text) }
        XCTAssertNotEqual(otherSeed, iterations)
        // A prompt file's prompts are text alone (a reward that needs more, as the shapes world's, parses the text).
        let eval = try task.evaluationPrompts(count: 7)
        XCTAssertEqual(eval.map(\.text), texts + texts.prefix(2))
        XCTAssertTrue(eval.allSatisfy { $0.metadata == nil })
    }

    func testClearErrors() throws {
        let prompts = try promptFile()
        let broken = try temporaryDirectory(self)
        try FileManager.default.copyItem(at: Fixture.url("sd_mini/vae"), to: broken.appendingPathComponent("vae"))
        XCTAssertThrowsError(try StableDiffusionTask(folder: broken, promptFile: prompts, resolution: 16)) { error in
            XCTAssertTrue("\(error)".contains("unet") && "\(error)".contains(broken.path), "\(error)")
        }
        let empty = broken.appendingPathComponent("empty.txt")
        try "\n   \n".write(to: empty, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try StableDiffusionTask(folder: Fixture.url("sd_mini"), promptFile: empty, resolution: 16))
        { error in
            XCTAssertTrue("\(error)".contains("empty.txt") && "\(error)".contains("no prompt"), "\(error)")
        }
        XCTAssertThrowsError(
            try StableDiffusionTask(
                folder: Fixture.url("sd_mini"), promptFile: broken.appendingPathComponent("missing.txt"))
        ) { error in
            XCTAssertTrue("\(error)".contains("missing.txt"), "\(error)")
        }
        XCTAssertThrowsError(try makeTask(resolution: 12)) { error in
            XCTAssertTrue("\(error)".contains("resolution 12") && "\(error)".contains("multiple of 8"), "\(error)")
        }
    }

    /// LoRA on the attention projections (attn1/attn2 to_q, to_k, to_v, to_out.0) through the generic mechanism;
    /// saved keys follow diffusers' SD LoRA layout (`unet.` prefix, PEFT `lora_A`/`lora_B` names).
    func testLoRAOnTheUNetAttention() throws {
        let task = try makeTask()
        let unet = task.pipeline.unet
        let names = try unet.addLoRA(
            LoRAConfig(rank: 2, alpha: 4, targetModules: ["to_k", "to_q", "to_v", "to_out.0"]), key: RandomKey(seed: 3))
        let blocks = unet.namedModules().filter { $0.module is BasicTransformerBlock }.map(\.key)
        XCTAssertEqual(blocks.count, 7, "2 down + 1 mid + 4 up transformer blocks in sd_mini")
        var expected: [String] = []
        for block in blocks {
            for attention in ["attn1", "attn2"] {
                for projection in ["to_q", "to_k", "to_v", "to_out.0"] {
                    expected.append("\(block).\(attention).\(projection)")
                }
            }
        }
        XCTAssertEqual(Set(names), Set(expected))
        XCTAssertTrue(
            unet.trainableParameters().allSatisfy { $0.key.contains(".lora_A.") || $0.key.contains(".lora_B.") })

        let folder = try temporaryDirectory(self)
        let file = folder.appendingPathComponent("pytorch_lora_weights.safetensors")
        // Non-zero B so the round trip is visible.
        for (_, layer) in unet.loraLayers() {
            layer.lora!.up.weight = Random.normal(layer.lora!.up.weight.shape, key: RandomKey(seed: 4)) * 0.1
        }
        try unet.saveLoRA(to: file, prefix: task.networkFolderName)
        let (tensors, metadata) = try SafeTensors.loadWithMetadata(file)
        XCTAssertEqual(tensors.count, expected.count * 2)
        XCTAssertTrue(
            tensors.keys.allSatisfy {
                $0.hasPrefix("unet.") && ($0.hasSuffix(".lora_A.weight") || $0.hasSuffix(".lora_B.weight"))
            })
        XCTAssertEqual(
            tensors["unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_A.weight"]?.shape, [2, 16])
        XCTAssertEqual(
            tensors["unet.up_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.lora_A.weight"]?.shape, [2, 32])
        XCTAssertEqual(
            tensors["unet.mid_block.attentions.0.transformer_blocks.0.attn2.to_out.0.lora_B.weight"]?.shape, [32, 2])
        XCTAssertTrue(
            metadata["lora_adapter_metadata"]?.contains("\"unet.r\":2") == true,
            metadata["lora_adapter_metadata"] ?? "none")

        // The file loads onto a fresh UNet and reproduces the adapted output.
        let fresh = try UNet2DConditionModel.load(from: Fixture.url("sd_mini/unet"))
        try fresh.loadLoRA(from: file, prefix: "unet")
        let x = Random.normal([1, 8, 8, 4], key: RandomKey(seed: 5))
        let context = try task.conditioning(["a red circle"])[UNetPolicy.textStatesKey]
        let t = Tensor([500] as [Float])
        assertClose(
            fresh(x, timesteps: t, encoderHiddenStates: context), unet(x, timesteps: t, encoderHiddenStates: context),
            tolerance: 1e-5)
        XCTAssertThrowsError(try task.saveNetwork(to: folder), "a full UNet save with adapters attached is refused")
    }

    /// Rollout and update through the task's policy, chain and conditioning: DDIM η = 1 with CFG (the SD trainer's
    /// settings), every first ratio 1.
    func testFirstRatiosAreOneThroughTheTask() throws {
        let task = try makeTask()
        guard case .ddim(let schedulerConfig) = task.chain else { return XCTFail("expected a DDIM chain") }
        let policy = task.policy(reference: nil)
        let prompts = try task.trainingPrompts(count: 2, iteration: 0, seed: 1).map(\.text)
        let cond = try task.conditioning(prompts).repeatingEachRow(2)
        var config = RolloutConfig()
        config.process = DDIMProcess(scheduler: DDIMScheduler(config: schedulerConfig, steps: 4), eta: 1)
        config.guidanceScale = 5
        config.batchSize = 2
        let unconditional = try task.conditioning([""])
        let r = rollout(
            policy: policy, conditioning: cond, latentShape: task.latentShape, config: config, key: RandomKey(seed: 6),
            unconditional: unconditional)
        XCTAssertEqual(try task.images(r.finalLatents).count, 4)
        var update = UpdateConfig()
        update.gradientAccumulationSteps = 4
        update.transitionBatchSize = 2
        update.timestepFraction = 1
        let stats = try updatePolicy(
            policy: policy, optimizer: AdamW(model: task.network, learningRate: 1e-5), rollout: r,
            conditioning: cond, advantages: [1, -1, 0.5, -0.5], config: update, key: RandomKey(seed: 7),
            unconditional: unconditional)
        XCTAssertEqual(stats.ratios.count, 4 * 3)
        XCTAssertLessThan(stats.ratios.map { abs($0 - 1) }.max()!, 1e-4)
        XCTAssertEqual(stats.optimizerSteps, 1)
    }
}
