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
}
