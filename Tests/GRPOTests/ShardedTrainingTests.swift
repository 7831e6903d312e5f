import Engine
import Foundation
import GRPO
import NN
import Sampling
import XCTest

/// A residual MLP policy with checkpointable blocks, so that ZeRO-3 gathers each block inside its checkpoint. Sizes
/// are odd on purpose: no unit splits evenly over 2 or 4 ranks, so the padding of the shares is exercised.
final class BlockPolicy: Module, DenoisingPolicy, GradientCheckpointable {
    final class Block: Module {
        let up: Linear
        let down: Linear
        init(width: Int, key: RandomKey) {
            let keys = key.split(into: 2)
            up = Linear(width, 2 * width + 1, key: keys[0])
            down = Linear(2 * width + 1, width, key: keys[1])
            super.init()
        }
        func callAsFunction(_ x: Tensor) -> Tensor { x + down(silu(up(x))) }
    }

    let input: Linear
    let blocks: [Block]
    let output: Linear
    var gradientCheckpointing = true
    var module: Module { self }
    var checkpointedBlocks: [Module] { blocks }
    private var reference: ReferenceWeights?

    init(seed: UInt64 = 5, keepsReference: Bool = false) {
        let keys = RandomKey(seed: seed).split(into: 5)
        input = Linear(12 + 1 + 2, 9, key: keys[0])
        blocks = (0..<3).map { Block(width: 9, key: keys[1 + $0]) }
        output = Linear(9, 12, key: keys[4])
        super.init()
        if keepsReference { reference = ReferenceWeights(snapshotOf: self) }
    }

    func referenceOutput(_ x: Tensor, timesteps: Tensor, conditioning: Conditioning) throws -> Tensor {
        guard let reference else { throw GRPOError.noReferencePolicy("BlockPolicy") }
        return reference.evaluate { modelOutput(x, timesteps: timesteps, conditioning: conditioning) }
    }

    func modelOutput(_ x: Tensor, timesteps: Tensor, conditioning: Conditioning) -> Tensor {
        let b = x.dim(0)
        var h = input(
            concatenated([x.reshaped([b, 12]), (timesteps / 1000).expandedDims(axis: 1), conditioning["text"]], axis: 1)
        )
        for block in blocks {
            h = gradientCheckpointing ? block.withCheckpointing([h]) { [block($0[0])] }[0] : block(h)
        }
        return output(h).reshaped(x.shape)
    }
}

/// ZeRO stages 1–3 take the optimizer steps stage 0 takes: one process training 12 samples in 3 windows of 4, and 2
/// or 4 ranks (real processes over MLX's ring) training their part of each window, end at the same weights.
final class ShardedTrainingTests: XCTestCase {
    private static let samples = 12
    private static let window = 4
    private let advantages: [Float] = (0..<12).map { Float($0 % 5) - 2 + 0.25 * Float($0) }
    private let conditioning = Conditioning(
        ["text": Tensor((0..<24).map { Float($0 % 7) / 7 }, shape: [12, 2])])

    private func sharedRollout() -> RolloutBatch {
        var c = RolloutConfig.flow(steps: 5)
        c.batchSize = 12
        return rollout(
            policy: BlockPolicy(), conditioning: conditioning, latentShape: [4, 3], config: c,
            key: RandomKey(seed: 40))
    }

    /// The global samples rank `rank` of `worldSize` trains, window by window.
    private static func samples(rank: Int, worldSize: Int) -> [Int] {
        let perRank = window / worldSize
        return (0..<(samples / window)).flatMap { w in (0..<perRank).map { w * window + rank * perRank + $0 } }
    }

    /// Trains the rank's samples at `stage` and returns the weights after the 3 optimizer steps.
    private func train(
        stage: ZeroStage, group: ProcessGroup, checkpointing: Bool = true, beta: Float = 0,
        computeDType: DType? = nil
    ) throws -> [String: Tensor] {
        // Stage 0 keeps the reference in the policy, the sharded stages as shares.
        let policy = BlockPolicy(keepsReference: beta > 0 && stage == .replicated)
        policy.gradientCheckpointing = checkpointing
        let makeOptimizer = { (module: Module) -> Optimizer in
            AdamW(model: module, learningRate: 3e-2, weightDecay: 0.1)
        }
        let sharded =
            stage == .replicated
            ? nil
            : try ShardedTraining(
                model: policy, stage: stage, processGroup: group, blocks: policy.checkpointedBlocks,
                keepsReference: beta > 0, makeOptimizer: makeOptimizer)
        let optimizer = sharded?.optimizer ?? makeOptimizer(policy)
        let mine = Self.samples(rank: group.rank, worldSize: group.worldSize)
        let r = sharedRollout()
        let rows = Tensor(mine.map(Int32.init))
        let part = RolloutBatch(
            latents: r.latents.take(rows, axis: 0), logProbs: r.logProbs.take(rows, axis: 0),
            finalLatents: r.finalLatents.take(rows, axis: 0), process: r.process)
        var u = UpdateConfig()
        u.timestepFraction = 1  // every transition: the parts train what the whole trains
        u.clipRange = 10
        u.maxGradNorm = 0.05  // small enough that some steps are clipped
        u.gradientAccumulationSteps = Self.window / group.worldSize
        u.transitionBatchSize = 3
        u.beta = beta
        u.computeDType = computeDType
        let stats = try updatePolicy(
            policy: policy, optimizer: optimizer, rollout: part, conditioning: conditioning.rows(mine),
            advantages: mine.map { advantages[$0] }, config: u, key: RandomKey(seed: 41),
            processGroup: group, lossScaler: computeDType == .float16 ? LossScaler() : nil, sharded: sharded)
        XCTAssertEqual(stats.optimizerSteps, 3)
        XCTAssertEqual(stats.skippedSteps, [])
        let weights = try sharded?.withGatheredParameters { policy.parameters() } ?? policy.parameters()
        eval(Array(weights.values))
        if let sharded, checkpointing {
            // A forward pass gathering block by block inside the checkpoints gives the forward of the whole weights.
            let x = r.latents[0..<2, 1]
            let t = Tensor([500, 250] as [Float])
            let c = conditioning.rows([0, 1])
            let blockwise = try sharded.withGatheredParameters(forward: true) {
                policy.modelOutput(x, timesteps: t, conditioning: c)
            }
            let whole = try sharded.withGatheredParameters { policy.modelOutput(x, timesteps: t, conditioning: c) }
            XCTAssertEqual(blockwise.toArray(Float.self), whole.toArray(Float.self))
            XCTAssertTrue(policy.trainableParameters().isEmpty || stage != .parameters, "stage 3 keeps no weights")
        }
        return weights
    }

    func testRankWorkerTrainsItsPartAtItsStage() throws {
        guard RankProcesses.isWorker, let stage = ProcessInfo.processInfo.environment["ZERO_STAGE"].flatMap(Int.init)
        else { return }
        let group = try RankProcesses.formGroup()
        let beta = ProcessInfo.processInfo.environment["KL_BETA"].flatMap(Float.init) ?? 0
        let dtype: DType? = ProcessInfo.processInfo.environment["COMPUTE_DTYPE"] == "bf16" ? .bfloat16 : nil
        let weights = try train(stage: ZeroStage(rawValue: stage)!, group: group, beta: beta, computeDType: dtype)
        try RankProcesses.report(weights.mapValues { $0.reshaped([-1]).toArray(Double.self) })
    }

    /// The largest difference from the reference relative to the largest reference magnitude, over every tensor.
    private func relativeDifference(_ found: [String: [Double]], _ expected: [String: Tensor]) -> Double {
        let scale = expected.values.map { Double($0.abs().max().item(Float.self)) }.max()!
        return expected.keys.map { key in
            let reference = expected[key]!.reshaped([-1]).toArray(Double.self)
            guard let values = found[key], values.count == reference.count else { return .infinity }
            return zip(values, reference).map { abs($0 - $1) }.max()!
        }.max()! / scale
    }

    private func asArrays(_ weights: [String: Tensor]) -> [String: [Double]] {
        weights.mapValues { $0.reshaped([-1]).toArray(Double.self) }
    }

    func testEveryStageOnOneProcessTakesStageZerosSteps() throws {
        guard !RankProcesses.isWorker else { return }
        let reference = try train(stage: .replicated, group: SingleProcessGroup())
        let initial = BlockPolicy().parameters()
        XCTAssertGreaterThan(relativeDifference(asArrays(initial), reference), 1e-3, "training must move the weights")
        for stage in [ZeroStage.optimizerState, .gradients, .parameters] {
            for checkpointing in [true, false] {
                let weights = try train(stage: stage, group: SingleProcessGroup(), checkpointing: checkpointing)
                XCTAssertLessThanOrEqual(relativeDifference(asArrays(weights), reference), 1e-5, "\(stage)")
            }
        }
        // With the KL penalty: the sharded reference is the initial weights, as stage 0's snapshot.
        let penalized = try train(stage: .replicated, group: SingleProcessGroup(), beta: 0.5)
        XCTAssertGreaterThan(relativeDifference(asArrays(penalized), reference), 1e-4, "β must change the steps")
        for stage in [ZeroStage.optimizerState, .gradients, .parameters] {
            let weights = try train(stage: stage, group: SingleProcessGroup(), beta: 0.5)
            XCTAssertLessThanOrEqual(relativeDifference(asArrays(weights), penalized), 1e-5, "\(stage) with β")
        }
    }

    /// Saved states convert to stage 0's per-parameter layout and back; one that does not fit the trained
    /// parameters names what is wrong.
    func testStatesRoundTripThroughThePerParameterLayoutAndMisfitsAreNamed() throws {
        guard !RankProcesses.isWorker else { return }
        let policy = BlockPolicy()
        let sharded = try ShardedTraining(
            model: policy, stage: .parameters, processGroup: SingleProcessGroup(), blocks: policy.checkpointedBlocks,
            makeOptimizer: { AdamW(model: $0, learningRate: 1e-2) })
        let moments = Dictionary(
            uniqueKeysWithValues: sharded.shareKeys.enumerated().map { i, key in
                (
                    "state.\(key).exp_avg",
                    Random.normal([sharded.shareModule.parameters()[key]!.dim(0)], key: RandomKey(seed: UInt64(i)))
                )
            })
        var state = moments
        for key in sharded.shareKeys { state["state.\(key).step"] = Tensor(Int32(3)) }
        state["step"] = Tensor(Int32(3))
        let perParameter = try sharded.gatherState(state)
        XCTAssertEqual(perParameter["state.blocks.1.up.weight.exp_avg"]?.shape, [19, 9])
        XCTAssertEqual(perParameter["state.input.bias.step"]?.item(Int32.self), 3)
        let back = try sharded.shardState(perParameter, prefixes: ["state."], source: "optimizer.safetensors")
        XCTAssertEqual(Set(back.keys), Set(state.keys))
        // One rank: a share is its whole unit (no padding), so the round trip is exact.
        for (key, tensor) in moments { XCTAssertEqual(back[key]!.toArray(Float.self), tensor.toArray(Float.self), key) }
        var broken = perParameter
        broken["state.blocks.1.up.weight.exp_avg"] = Tensor.zeros([9, 19])
        broken["state.output.weight.exp_avg"] = nil
        broken["state.nothing.weight.exp_avg"] = Tensor.zeros([2])
        XCTAssertThrowsError(try sharded.shardState(broken, prefixes: ["state."], source: "optimizer.safetensors")) {
            let message = "\($0)"
            XCTAssertTrue(message.hasPrefix("optimizer.safetensors: does not fit the trained parameters"), message)
            XCTAssertTrue(message.contains("'state.nothing.weight.exp_avg' belongs to no trained parameter"), message)
            XCTAssertTrue(
                message.contains("missing 'state.output.bias.exp_avg'")
                    || message.contains("missing 'state.output.weight.exp_avg'"), message)
            XCTAssertTrue(
                message.contains("'state.blocks.1.up.weight.exp_avg': shape [9, 19], parameter has [19, 9]"), message)
        }
    }

    func testTwoAndFourRanksAtEveryStageReachOneProcessWeights() throws {
        guard !RankProcesses.isWorker else { return }
        try compareRanks(worldSizes: [2, 4], beta: 0)
    }

    func testTwoRanksWithTheKLPenaltyAtEveryStageReachOneProcessWeights() throws {
        guard !RankProcesses.isWorker else { return }
        try compareRanks(worldSizes: [2], beta: 0.5)
    }

    /// bf16 passes from float32 master weights: every stage takes stage 0's bf16 steps, on one process and on two
    /// ranks. (Two bf16 ranks are compared with two stage-0 ranks, not with one process: bf16 rounds each call's
    /// gradients, so regrouping the calls moves near-zero gradients, and AdamW turns their sign into steps of lr.)
    func testMixedPrecisionAtEveryStageTakesStageZerosSteps() throws {
        guard !RankProcesses.isWorker else { return }
        let float32 = try train(stage: .replicated, group: SingleProcessGroup())
        let bf16 = try train(stage: .replicated, group: SingleProcessGroup(), computeDType: .bfloat16)
        XCTAssertGreaterThan(relativeDifference(asArrays(bf16), float32), 1e-4, "bf16 must change the steps")
        for stage in [ZeroStage.optimizerState, .gradients, .parameters] {
            for checkpointing in [false, true] {
                let single = try train(
                    stage: stage, group: SingleProcessGroup(), checkpointing: checkpointing, computeDType: .bfloat16)
                XCTAssertLessThanOrEqual(relativeDifference(asArrays(single), bf16), 1e-5, "\(stage)")
            }
        }
        // fp16 with loss scaling: the sharded step unscales as stage 0 does.
        let fp16 = try train(stage: .replicated, group: SingleProcessGroup(), computeDType: .float16)
        XCTAssertGreaterThan(relativeDifference(asArrays(fp16), bf16), 1e-5, "fp16 is not bf16")
        let shardedFP16 = try train(stage: .parameters, group: SingleProcessGroup(), computeDType: .float16)
        XCTAssertLessThanOrEqual(relativeDifference(asArrays(shardedFP16), fp16), 1e-5, "fp16, stage 3")
        var results: [ZeroStage: [[String: [Double]]]] = [:]
        for stage in [ZeroStage.replicated, .parameters] {
            let ranks = try RankProcesses.start(
                "ShardedTrainingTests/testRankWorkerTrainsItsPartAtItsStage", count: 2,
                environment: ["ZERO_STAGE": String(stage.rawValue), "COMPUTE_DTYPE": "bf16"], for: self)
            XCTAssertTrue(RankProcesses.wait(ranks, seconds: 180), ranks.map(\.output).joined())
            for rank in ranks { XCTAssertEqual(rank.process.terminationStatus, 0, rank.output) }
            results[stage] = try ranks.map(RankProcesses.results)
        }
        let stageZero = results[.replicated]![0].mapValues { Tensor($0.map(Float.init)) }
        for found in results[.parameters]! {
            XCTAssertLessThanOrEqual(relativeDifference(found, stageZero), 1e-5, "2 bf16 ranks, stage 3")
        }
    }

    private func compareRanks(worldSizes: [Int], beta: Float) throws {
        let reference = try train(stage: .replicated, group: SingleProcessGroup(), beta: beta)
        for worldSize in worldSizes {
            for stage in ZeroStage.allCases {
                let ranks = try RankProcesses.start(
                    "ShardedTrainingTests/testRankWorkerTrainsItsPartAtItsStage", count: worldSize,
                    environment: ["ZERO_STAGE": String(stage.rawValue), "KL_BETA": String(beta)], for: self)
                XCTAssertTrue(RankProcesses.wait(ranks, seconds: 180), ranks.map(\.output).joined())
                let first = try? RankProcesses.results(ranks[0])
                for rank in ranks {
                    XCTAssertEqual(rank.process.terminationStatus, 0, rank.output)
                    // Every rank gets the same sums from the ring, whatever the rank count: bit-identical weights.
                    XCTAssertEqual(try? RankProcesses.results(rank), first, "\(worldSize) ranks, \(stage)")
                    let difference = relativeDifference(try RankProcesses.results(rank), reference)
                    XCTAssertLessThanOrEqual(difference, 1e-5, "\(worldSize) ranks, \(stage), rank \(rank.rank)")
                }
            }
        }
    }
}
