import Engine
import Sampling
import Foundation
import GRPO
import NN
import TestSupport
import XCTest

/// Data parallelism in `updatePolicy`: two ranks with three samples each take the optimizer step one process takes on
/// all six. Rank 1 is a thread that only talks over the socket (tensor work stays on this thread): it sends the
/// gradient its half produces, computed here beforehand.
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

    func testTwoRanksTakeTheStepOfOneProcessOnBothHalves() throws {
        var c = RolloutConfig.flow(steps: 6)
        c.batchSize = 6
        let r = rollout(
            policy: ToyPolicy(), conditioning: conditioning, latentShape: [4, 3], config: c, key: RandomKey(seed: 30))
        let whole = try step(samples: Array(0..<6), accumulation: 6, rollout: r)
        let secondHalf = try step(samples: [3, 4, 5], accumulation: 3, rollout: r)
        let names = whole.keys.sorted()
        let rankOneGradient = concatenated(names.map { secondHalf[$0]!.reshaped([-1]) }, axis: 0).toArray(Float.self)

        let listener = try SocketProcessGroup.makeListener()
        let peer = Results()
        peer.start {
            let group = try SocketProcessGroup.joining(
                rank: 1, worldSize: 2, host: "127.0.0.1", port: listener.port, timeout: 20)
            let sum = try group.allReduceSum(rankOneGradient)
            return "\(sum.count)"
        }
        let group = try SocketProcessGroup.accepting(worldSize: 2, listener: listener, timeout: 20)
        let rankZero = try step(samples: [0, 1, 2], accumulation: 3, rollout: r, group: group)
        XCTAssertEqual(try peer.wait(), ["\(rankOneGradient.count)"])

        let scale = whole.values.map { $0.abs().max().item(Float.self) }.max()!
        XCTAssertGreaterThan(scale, 1e-4, "the step must move the parameters")
        for name in names {
            XCTAssertLessThan(maxAbsDifference(rankZero[name]!, whole[name]!), 1e-5 * max(1, scale), name)
        }
        // Without the peer's half the step differs: the comparison above can fail.
        let firstHalfAlone = try step(samples: [0, 1, 2], accumulation: 3, rollout: r)
        XCTAssertGreaterThan(names.map { maxAbsDifference(firstHalfAlone[$0]!, whole[$0]!) }.max()!, 1e-3 * scale)
    }
}
