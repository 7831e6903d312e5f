import Engine
import Sampling
import Foundation
import GRPO
import NN
import TestSupport
import XCTest

/// Data parallelism in `updatePolicy`: two ranks (real processes over MLX's ring, see ``RankProcesses``) with three
/// samples each take the optimizer step one process takes on all six.
final class DataParallelUpdateTests: XCTestCase {
    private let conditioning = Conditioning(["text": Tensor([1, 0, 0, 1] as [Float], shape: [2, 2])]).repeatingEachRow(
        3)
    private let advantages: [Float] = [1, -1, 0.5, -0.5, 2, -2]

    private var update: UpdateConfig {
        var u = UpdateConfig()
        u.timestepFraction = 1  // every transition, so that the halves train what the whole trains
        u.clipRange = 10
        u.maxGradNorm = 1e9
        return u
    }

    /// SGD at lr 1 without decay: the parameter change is minus the (averaged) gradient.
    private func step(samples: [Int], accumulation: Int, rollout r: RolloutBatch, group: ProcessGroup? = nil) throws
        -> [String: Tensor]
    {
        let policy = ToyPolicy()
        let before = policy.parameters()
        let rows = Tensor(samples.map(Int32.init))
        let part = RolloutBatch(
            latents: r.latents.take(rows, axis: 0), logProbs: r.logProbs.take(rows, axis: 0),
            finalLatents: r.finalLatents.take(rows, axis: 0), process: r.process)
        var u = update
        u.gradientAccumulationSteps = accumulation
        let stats = try updatePolicy(
            policy: policy, optimizer: SGD(model: policy, learningRate: 1), rollout: part,
            conditioning: conditioning.rows(samples), advantages: samples.map { advantages[$0] },
            config: u, key: RandomKey(seed: 31), processGroup: group)
        XCTAssertEqual(stats.optimizerSteps, 1)
        return policy.parameters().reduce(into: [:]) { $0[$1.key] = before[$1.key]! - $1.value }
    }

    private func sharedRollout() -> RolloutBatch {
        var c = RolloutConfig.flow(steps: 6)
        c.batchSize = 6
        return rollout(
            policy: ToyPolicy(), conditioning: conditioning, latentShape: [4, 3], config: c, key: RandomKey(seed: 30))
    }

    /// Rank r trains samples 3r…3r+2 with the group and reports its parameter change.
    func testRankWorkerTrainsItsHalf() throws {
        guard RankProcesses.isWorker else { return }
        let group = try RankProcesses.formGroup()
        let change = try step(
            samples: Array((3 * group.rank)..<(3 * group.rank + 3)), accumulation: 3, rollout: sharedRollout(),
            group: group)
        try RankProcesses.report(change.mapValues { $0.reshaped([-1]).toArray(Double.self) })
    }

    func testTwoRanksTakeTheStepOfOneProcessOnBothHalves() throws {
        guard !RankProcesses.isWorker else { return }
        let ranks = try RankProcesses.start("DataParallelUpdateTests/testRankWorkerTrainsItsHalf", for: self)
        let r = sharedRollout()
        let whole = try step(samples: Array(0..<6), accumulation: 6, rollout: r)
        XCTAssertTrue(RankProcesses.wait(ranks, seconds: 120), ranks.map(\.output).joined())
        let names = whole.keys.sorted()
        let scale = whole.values.map { $0.abs().max().item(Float.self) }.max()!
        XCTAssertGreaterThan(scale, 1e-4, "the step must move the parameters")
        var changes: [[String: [Double]]] = []
        for rank in ranks {
            XCTAssertEqual(rank.process.terminationStatus, 0, rank.output)
            changes.append(try RankProcesses.results(rank))
        }
        for name in names {
            let expected = whole[name]!.reshaped([-1]).toArray(Double.self)
            // Both ranks take the same step, and it is the one-process step on all six samples.
            XCTAssertEqual(changes[0][name], changes[1][name], name)
            let difference = zip(changes[0][name] ?? [], expected).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThan(difference, 1e-5 * Double(max(1, scale)), name)
        }
        // Without the peer's half the step differs: the comparison above can fail.
        let firstHalfAlone = try step(samples: [0, 1, 2], accumulation: 3, rollout: r)
        XCTAssertGreaterThan(names.map { maxAbsDifference(firstHalfAlone[$0]!, whole[$0]!) }.max()!, 1e-3 * scale)
    }
}
