import XCTest
import Engine
import NN
import TestSupport

private final class CheckpointedMLP: Module {
    let fc1: Linear
    let fc2: Linear
    override init() {
        let keys = RandomKey(seed: 11).split(into: 2)
        fc1 = Linear(6, 16, key: keys[0])
        fc2 = Linear(16, 3, key: keys[1])
        super.init()
    }
    func callAsFunction(_ x: Tensor) -> Tensor { fc2(gelu(fc1(x))) }
}

/// Gradient checkpointing (activations recomputed in the backward pass) must not change the gradients.
final class OptimizationCheckpointingTests: XCTestCase {
    func testCheckpointedMLPHasTheSameGradients() {
        let model = CheckpointedMLP()
        let x = Random.normal([5, 6], key: RandomKey(seed: 12))
        let target = Random.normal([5, 3], key: RandomKey(seed: 13))

        let (plainLoss, plain) = valueAndGrad(model: model) { [(model(x) - target).square().mean()] }
        let (checkpointedLoss, checkpointed) = valueAndGrad(model: model) {
            let y = model.withCheckpointing([x]) { [model($0[0])] }[0]
            return [(y - target).square().mean()]
        }

        XCTAssertEqual(checkpointedLoss[0].item(Float.self), plainLoss[0].item(Float.self), accuracy: 1e-7)
        XCTAssertEqual(checkpointed.keys.sorted(), ["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"])
        for (key, gradient) in plain {
            XCTAssertGreaterThan(gradient.abs().max().item(Float.self), 0, key)
            XCTAssertLessThanOrEqual(maxAbsDifference(checkpointed[key]!, gradient), 1e-6, key)
        }
    }

    /// A checkpointed function that returns one tensor twice (a block output that is also a skip connection), or
    /// returns an input unchanged, must pass both gradients back.
    func testRepeatedOutputsKeepEveryGradient() {
        let model = CheckpointedMLP()
        let x = Random.normal([5, 6], key: RandomKey(seed: 14))
        func loss(_ outputs: [Tensor]) -> Tensor {
            outputs[0].sum() + 2 * outputs[1].square().sum() + 3 * outputs[2].sum()
        }
        let (_, plain) = valueAndGrad(model: model) {
            let y = model(x)
            return [loss([y, y, y])]
        }
        let (_, recomputed) = valueAndGrad(model: model) {
            let outs = model.withCheckpointing([x]) { inputs -> [Tensor] in
                let y = model(inputs[0])
                return [y, y, y]
            }
            return [loss(outs)]
        }
        for (key, gradient) in plain {
            XCTAssertLessThanOrEqual(maxAbsDifference(recomputed[key]!, gradient), 1e-5, key)
        }
        let passThrough = checkpointed({ inputs in [inputs[0], inputs[0] * 2] })
        let (_, inputGradients) = valueAndGrad { (inputs: [Tensor]) -> [Tensor] in
            let outs = passThrough(inputs)
            return [outs[0].sum() + outs[1].sum()]
        }([x])
        XCTAssertEqual(inputGradients[0].toArray(Float.self), [Float](repeating: 3, count: 30))
    }
}
