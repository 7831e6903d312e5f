import Engine
import Foundation
import GRPO
import NN
import XCTest

/// The memory plan's accounting, item by item, against hand-computed bytes; its suggestions; the device's size.
final class MemoryPlanTests: XCTestCase {
    /// P = 1000 trained parameters, a largest block of 100, 4 ranks, EMA and a KL reference, no activations.
    private func inputs(stage: Int, compute: DType = .float32, worldSize: Int = 4) -> MemoryPlan.Inputs {
        var i = MemoryPlan.Inputs(trainableParameters: 1000)
        i.largestUnitParameters = 100
        i.frozenBytes = 50
        i.worldSize = worldSize
        i.zeroStage = stage
        i.computeDType = compute
        i.ema = true
        i.reference = true
        return i
    }

    private func bytes(_ plan: MemoryPlan) -> [MemoryPlan.Item: Int] {
        Dictionary(uniqueKeysWithValues: MemoryPlan.Item.allCases.map { ($0, plan.bytes($0)) })
    }

    func testEachStageByHand() {
        // Stage 0: 4P weights, 4P accumulated + 4P call gradients, 8P moments, 4P EMA, 4P reference.
        XCTAssertEqual(
            bytes(MemoryPlan(inputs(stage: 0))),
            [
                .weights: 4000, .frozen: 50, .gradients: 8000, .optimizer: 8000, .ema: 4000, .reference: 4000,
                .activations: 0, .rollout: 0, .optimizerStep: 12000
            ])
        // The step's transient (new moments and weights, clipped gradients, less the call's gradient) on top.
        XCTAssertEqual(MemoryPlan(inputs(stage: 0)).total, 28050 + 12000)
        // Stage 1: the moments sharded, 8P/W, beside the rank's float32 share of the weights (4P/W); EMA and the
        // reference on the shares.
        XCTAssertEqual(MemoryPlan(inputs(stage: 1)).bytes(.optimizer), 2000)
        XCTAssertEqual(MemoryPlan(inputs(stage: 1)).bytes(.weights), 4000 + 1000)
        XCTAssertEqual(MemoryPlan(inputs(stage: 1)).bytes(.ema), 1000)
        XCTAssertEqual(MemoryPlan(inputs(stage: 1)).bytes(.reference), 1000)
        XCTAssertEqual(MemoryPlan(inputs(stage: 1)).bytes(.gradients), 8000)
        // Stage 1's step all-sums the whole gradient (4P) and updates a share (16P/W).
        XCTAssertEqual(MemoryPlan(inputs(stage: 1)).bytes(.optimizerStep), 4000 + 4000)
        // Stage 2: 4P/W accumulated; the call's whole gradient (4P) only with the call's activations.
        XCTAssertEqual(MemoryPlan(inputs(stage: 2)).bytes(.gradients), 1000)
        XCTAssertEqual(MemoryPlan(inputs(stage: 2)).bytes(.activations), 4000)
        // Stages 1 and 2 gather the new whole weights in the step (4P) beside the share's update (16P/W).
        XCTAssertEqual(MemoryPlan(inputs(stage: 2)).total, 5000 + 50 + 1000 + 2000 + 1000 + 1000 + 4000 + 4000)
        // Stage 3 under bf16: 4P/W + 2 units of 100 in 2 bytes; gradients 4P/W + 3 float32 unit-sized buffers (a
        // block's gradients, their concatenation, the reduced sum); EMA and reference sharded.
        XCTAssertEqual(
            bytes(MemoryPlan(inputs(stage: 3, compute: .bfloat16))),
            [
                .weights: 1000 + 400, .frozen: 50, .gradients: 1000 + 1200, .optimizer: 2000, .ema: 1000,
                .reference: 1000, .activations: 0, .rollout: 0, .optimizerStep: 4000
            ])
    }

    func testMixedPrecisionAddsAWorkingCopyBelowStage3() {
        XCTAssertEqual(MemoryPlan(inputs(stage: 0, compute: .bfloat16)).bytes(.weights), 4000 + 2000)
        XCTAssertEqual(MemoryPlan(inputs(stage: 2, compute: .float16)).bytes(.weights), 4000 + 1000 + 2000)
        // The replicated reference is a snapshot in the compute dtype.
        XCTAssertEqual(MemoryPlan(inputs(stage: 0, compute: .bfloat16)).bytes(.reference), 2000)
    }

    func testOneRankShardsNothingAndShardsRoundUp() {
        let alone = MemoryPlan(inputs(stage: 3, worldSize: 1))
        XCTAssertEqual(alone.stage, 0)
        XCTAssertEqual(alone.total, MemoryPlan(inputs(stage: 0, worldSize: 1)).total)
        var odd = inputs(stage: 1)
        odd.trainableParameters = 1001
        XCTAssertEqual(MemoryPlan(odd).bytes(.optimizer), 8 * 251)
    }

    func testActivationsScaleWithRowsDTypeAndCheckpointing() {
        var i = inputs(stage: 0)
        i.activations = ActivationEstimate(stored: 1000, checkpointed: 400, forward: 300)
        i.transitionsPerCall = 5
        i.rolloutBatch = 2
        XCTAssertEqual(MemoryPlan(i).bytes(.activations), 1000 * 5 * 4)
        XCTAssertEqual(MemoryPlan(i).bytes(.rollout), 300 * 2 * 4)
        // Training, the rollout and the optimizer step never coexist: the largest one counts.
        XCTAssertEqual(MemoryPlan(i).total, 28050 + 20000)
        i.gradientCheckpointing = true
        XCTAssertEqual(MemoryPlan(i).bytes(.activations), 400 * 5 * 4)
        XCTAssertEqual(MemoryPlan(i).total, 28050 + 12000)
        i.computeDType = .bfloat16
        XCTAssertEqual(MemoryPlan(i).bytes(.activations), 400 * 5 * 2)
        // bf16 adds 2P of working weights and halves the reference; a rollout of 30 (18000 bytes) outweighs the step.
        i.rolloutBatch = 30
        XCTAssertEqual(MemoryPlan(i).total, 28050 + 18000)
    }

    func testTransformerEstimateFollowsItsFactors() {
        let e = ActivationEstimate.transformer(tokens: 10, hidden: 8, heads: 2, blocks: 3)
        let block = Int((21.0 * 80 + 0.87 * 200).rounded())
        XCTAssertEqual(e.stored, 4 * block)
        XCTAssertEqual(e.checkpointed, 3 * Int((14.0 * 80 + 0.38 * 200).rounded()) + block)
        XCTAssertEqual(e.forward, block)
    }

    func testAlternativesListOnlyWhatFits() {
        var i = inputs(stage: 0, worldSize: 2)
        i.ema = false
        i.reference = false
        i.activations = ActivationEstimate(stored: 5000, checkpointed: 1000, forward: 100)
        // 4000 + 50 + 8000 + 8000 + 20000 activations = 40050.
        let plan = MemoryPlan(i)
        XCTAssertEqual(plan.total, 40050)
        // At 25000 only stage 3 over 8 ranks (2 units gathered, 3 unit-sized gradient buffers, the rest in eighths:
        // 24050) fits; not 4 ranks (26050), stage 3 at 2 ranks (30050), checkpointing (the optimizer step's 12000
        // remain: 32050), bf16 (34050).
        XCTAssertEqual(plan.alternatives(fitting: 25000).map(\.change), ["--processes 8 --zero-stage 3"])
        XCTAssertEqual(plan.alternatives(fitting: 25000).map(\.plan.total), [24050])
        // At 33000 more fit, and LoRA when its inputs fit (24250).
        var lora = i
        lora.trainableParameters = 10
        lora.frozenBytes += 4000
        XCTAssertEqual(
            plan.alternatives(fitting: 33000, lora: lora).map(\.change),
            ["--processes 4 --zero-stage 3", "--zero-stage 3", "--gradient-checkpointing", "--lora-rank 128"])
        // Nothing alone fits 10000: checkpointing and bf16 together, sharded over the fewest ranks (9650 at 4).
        let together = plan.alternatives(fitting: 10000)
        XCTAssertEqual(
            together.map(\.change), ["--processes 4 --zero-stage 3 --gradient-checkpointing --mixed-precision bf16"])
        XCTAssertEqual(together.first?.plan.total, 9650)
        XCTAssertEqual(plan.alternatives(fitting: 100), [])
    }

    func testDeviceMemoryOverrideAndMeminfo() throws {
        let variable = DeviceMemory.overrideVariable
        XCTAssertEqual(try DeviceMemory.current(environment: [variable: "12345"]).bytes, 12345)
        XCTAssertThrowsError(try DeviceMemory.current(environment: [variable: "12 GB"])) {
            XCTAssertEqual(
                "\($0)", "DANCEGRPO_DEVICE_MEMORY_BYTES: expected a positive number of bytes, found '12 GB'")
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("meminfo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let good = folder.appendingPathComponent("good")
        try "MemTotal:       24576000 kB\nMemFree:  1 kB\n".write(to: good, atomically: true, encoding: .utf8)
        XCTAssertEqual(try DeviceMemory.ram(meminfo: good).bytes, 24_576_000 * 1024)
        let bad = folder.appendingPathComponent("bad")
        try "MemTotal: lots\n".write(to: bad, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try DeviceMemory.ram(meminfo: bad)) {
            XCTAssertEqual("\($0)", "\(bad.path): MemTotal: expected '<number> kB', found ' lots'")
        }
    }

    func testInventoryFindsTheLargestBlockAndLoRASizes() {
        let inventory = ParameterInventory(shapes: [
            "x_embedder.weight": [8, 4], "transformer_blocks.0.attn.to_q.weight": [8, 8],
            "transformer_blocks.0.attn.to_q.bias": [8], "transformer_blocks.1.attn.to_q.weight": [8, 8],
            "transformer_blocks.1.ff.net.0.proj.weight": [32, 8], "single_transformer_blocks.0.proj_out.weight": [8, 40]
        ])
        XCTAssertEqual(inventory.count, 32 + 64 + 8 + 64 + 256 + 320)
        XCTAssertEqual(inventory.largestUnit, 320)
        let lora = inventory.withLoRA(LoRAConfig(rank: 2, alpha: 4, targetModules: ["to_q"]))
        XCTAssertEqual(lora.trainable, 2 * 2 * (8 + 8))
        XCTAssertEqual(lora.largestUnit, 2 * 16)
    }
}
