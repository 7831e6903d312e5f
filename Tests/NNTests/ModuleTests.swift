import XCTest
import Engine
import NN

/// A tree with every kind of child: renamed, plain, list, optional, own parameters and a buffer.
private final class Block: Module {
    @Child(key: "to_q") var toQuery: Linear
    let proj: Linear
    @Param var scale: Tensor
    override init() {
        proj = Linear(3, 2, bias: false, key: RandomKey(seed: 2))
        scale = Tensor.ones([2])
        super.init()
        toQuery = Linear(4, 3, key: RandomKey(seed: 1))
    }
    func callAsFunction(_ x: Tensor) -> Tensor { proj(toQuery(x)) * scale }
}

private final class Model: Module {
    @Child(key: "transformer_blocks") var blocks: [Block]
    let norm: Linear?
    let missing: Linear?
    @Buffer(key: "position_ids") var positions: Tensor
    override init() {
        norm = Linear(2, 2, key: RandomKey(seed: 3))
        missing = nil
        super.init()
        blocks = [Block(), Block()]
        positions = Tensor.arange(4)
    }
}

final class ModuleTests: XCTestCase {
    func testKeysMirrorCheckpointNames() {
        let keys = Model().namedSlots().map(\.key)
        XCTAssertEqual(
            keys,
            [
                "position_ids",
                "transformer_blocks.0.scale", "transformer_blocks.0.to_q.weight", "transformer_blocks.0.to_q.bias",
                "transformer_blocks.0.proj.weight",
                "transformer_blocks.1.scale", "transformer_blocks.1.to_q.weight", "transformer_blocks.1.to_q.bias",
                "transformer_blocks.1.proj.weight",
                "norm.weight", "norm.bias"
            ])
    }

    func testBuffersAndFrozenAreNotTrainable() {
        let m = Model()
        XCTAssertFalse(m.trainableParameters().map(\.key).contains("position_ids"))
        m.freeze()
        XCTAssertEqual(m.trainableParameters().count, 0)
        m.unfreeze(matching: "to_q")
        XCTAssertEqual(
            m.trainableParameters().map(\.key),
            [
                "transformer_blocks.0.to_q.weight", "transformer_blocks.0.to_q.bias",
                "transformer_blocks.1.to_q.weight", "transformer_blocks.1.to_q.bias"
            ])
        XCTAssertEqual(m.parameterCount(), 4 + 2 * (2 + 12 + 3 + 6) + 6)
        XCTAssertEqual(m.parameterCount(trainableOnly: true), 2 * 15)
    }

    func testStrictLoadReportsEverythingAndChangesNothing() {
        let m = Model()
        var tensors = m.parameters()
        let before = m.parameters()["norm.weight"]!.toArray(Float.self)
        tensors["norm.weight"] = Tensor.zeros([2, 2])
        tensors.removeValue(forKey: "transformer_blocks.1.proj.weight")
        tensors["transformer_blocks.0.to_q.weight"] = Tensor.zeros([3, 5])
        tensors["extra.weight"] = Tensor.zeros([1])
        XCTAssertThrowsError(try m.load(tensors, source: "tiny.safetensors")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("tiny.safetensors"), text)
            XCTAssertTrue(text.contains("missing keys (1): transformer_blocks.1.proj.weight"), text)
            XCTAssertTrue(text.contains("unexpected keys (1): extra.weight"), text)
            XCTAssertTrue(text.contains("transformer_blocks.0.to_q.weight: expected [3, 4], found [3, 5]"), text)
        }
        XCTAssertEqual(m.parameters()["norm.weight"]!.toArray(Float.self), before)
        tensors["transformer_blocks.0.to_q.weight"] = Tensor.zeros([3, 4])
        tensors["transformer_blocks.1.proj.weight"] = Tensor.ones([2, 3])
        XCTAssertNoThrow(try m.load(tensors, strict: false))
        XCTAssertEqual(m.parameters()["norm.weight"]!.toArray(Float.self), [0, 0, 0, 0])
    }

    func testGradientsOfLinearMatchClosedForm() {
        // loss = sum(x Wᵀ + b) ⇒ dW[i, j] = Σ_n x[n, j], db[i] = N.
        let layer = Linear(3, 2, key: RandomKey(seed: 7))
        let x = Tensor([1, 2, 3, 4, 5, 6] as [Float], shape: [2, 3])
        let (values, grads) = valueAndGrad(model: layer) { [layer(x).sum()] }
        XCTAssertEqual(values.count, 1)
        XCTAssertEqual(grads["weight"]!.toArray(Float.self), [5, 7, 9, 5, 7, 9])
        XCTAssertEqual(grads["bias"]!.toArray(Float.self), [2, 2])
        // Tracing must leave the module's own tensors in place.
        XCTAssertEqual(layer.weight.shape, [2, 3])
        XCTAssertNoThrow(layer.weight.toArray(Float.self))
    }

    func testCheckpointingKeepsGradients() {
        let block = Block()
        let x = Random.normal([5, 4], key: RandomKey(seed: 11))
        let plain = valueAndGrad(model: block) { [block(x).square().sum()] }
        let recomputed = valueAndGrad(model: block) {
            [block.withCheckpointing([x]) { [block($0[0])] }[0].square().sum()]
        }
        XCTAssertEqual(plain.values[0].item(Float.self), recomputed.values[0].item(Float.self), accuracy: 1e-5)
        for (key, g) in plain.gradients {
            let diff = (g - recomputed.gradients[key]!).abs().max().item(Float.self)
            XCTAssertLessThan(diff, 1e-5, key)
        }
    }
}
