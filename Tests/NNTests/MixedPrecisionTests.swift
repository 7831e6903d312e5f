import Engine
import NN
import TestSupport
import XCTest

private final class MixedMLP: Module {
    let fc1: Linear
    let fc2: Linear
    @Buffer var table: Tensor
    /// The dtype the network computed in on its last call.
    var lastDType: DType?

    override init() {
        let keys = RandomKey(seed: 21).split(into: 2)
        fc1 = Linear(6, 16, key: keys[0])
        fc2 = Linear(16, 3, key: keys[1])
        table = Tensor([1, 2, 3] as [Float])
        super.init()
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        let h = gelu(fc1(x.asType(fc1.weight.dtype)))
        lastDType = h.dtype
        return fc2(h).asType(.float32)
    }
}

/// Mixed precision at the module level: a pass sees bf16 casts of the float32 master weights, the gradients come back
/// in float32 through the casts, checkpointing recomputes from the same casts, and a frozen LoRA base can be stored in
/// bf16 while its adapters stay float32.
final class MixedPrecisionTests: XCTestCase {
    private let x = Random.normal([5, 6], key: RandomKey(seed: 22))
    private let target = Random.normal([5, 3], key: RandomKey(seed: 23))

    /// bf16's unit roundoff is 2^-8 ≈ 0.0039: the loss and gradients of this two-layer network agree with float32's
    /// to a few of them (relative to the largest gradient entry).
    func testBF16GradientsAreFloat32AndCloseToFloat32s() {
        let model = MixedMLP()
        let (fullLoss, full) = valueAndGrad(model: model) { [(model(self.x) - self.target).square().mean()] }
        XCTAssertEqual(model.lastDType, .float32)
        let (mixedLoss, mixed) = valueAndGrad(model: model, computeDType: .bfloat16) {
            [(model(self.x) - self.target).square().mean()]
        }
        XCTAssertEqual(model.lastDType, .bfloat16, "the network computed in bf16")
        XCTAssertEqual(mixed.keys.sorted(), full.keys.sorted())
        for (key, value) in model.parameters() { XCTAssertEqual(value.dtype, .float32, "\(key) stays float32") }
        let lossError = abs(mixedLoss[0].item(Float.self) - fullLoss[0].item(Float.self))
        XCTAssertGreaterThan(lossError, 0, "bf16 rounding must show")
        XCTAssertLessThan(lossError / fullLoss[0].item(Float.self), 0.02)
        for (key, gradient) in full {
            XCTAssertEqual(mixed[key]!.dtype, .float32, key)
            let scale = gradient.abs().max().item(Float.self)
            XCTAssertLessThan(maxAbsDifference(mixed[key]!, gradient) / scale, 0.03, key)
        }
    }

    /// Checkpointed blocks recompute from the bf16 casts valueAndGrad installed: the same gradients as bf16 without
    /// checkpointing, bit for bit (the recomputation repeats the same operations on the same inputs).
    func testCheckpointingUnderBF16GivesTheSameGradients() {
        let model = MixedMLP()
        let (plainLoss, plain) = valueAndGrad(model: model, computeDType: .bfloat16) {
            [(model(self.x) - self.target).square().mean()]
        }
        let (checkpointedLoss, checkpointed) = valueAndGrad(model: model, computeDType: .bfloat16) {
            let y = model.withCheckpointing([self.x]) { [model($0[0])] }[0]
            return [(y - self.target).square().mean()]
        }
        XCTAssertEqual(model.lastDType, .bfloat16)
        XCTAssertEqual(checkpointedLoss[0].item(Float.self), plainLoss[0].item(Float.self))
        for (key, gradient) in plain {
            XCTAssertEqual(checkpointed[key]!.dtype, .float32, key)
            XCTAssertEqual(maxAbsDifference(checkpointed[key]!, gradient), 0, key)
        }
    }

    /// A pass outside differentiation: parameters cast for its duration, the master weights back afterwards, buffers
    /// never cast.
    func testWithParametersCastsForThePassOnly() {
        let model = MixedMLP()
        let before = model.fc1.weight
        let precision = ComputePrecision(.bfloat16)
        let y = precision.withParameters(of: model) { () -> Tensor in
            XCTAssertEqual(model.fc1.weight.dtype, .bfloat16)
            XCTAssertEqual(model.table.dtype, .float32, "buffers are not cast")
            return model(x)
        }
        XCTAssertEqual(model.lastDType, .bfloat16)
        XCTAssertEqual(y.dtype, .float32)
        XCTAssertEqual(model.fc1.weight.dtype, .float32)
        XCTAssertEqual(model.fc1.weight.toArray(Float.self), before.toArray(Float.self))
        XCTAssertEqual(precision.cast(Tensor([1, 2] as [Int32])).dtype, .int32, "integers are not cast")
    }

    /// LoRA on a frozen low-precision base: the base stored in bf16 (half the bytes), the adapters float32 and the
    /// only trainable tensors; gradients exist for the adapters alone, in float32.
    func testFrozenLoRABaseInBF16() throws {
        let model = MixedMLP()
        let fullBytes = model.namedSlots().reduce(0) { $0 + $1.slot.value!.count * $1.slot.value!.dtype.size }
        try model.addLoRA(LoRAConfig(rank: 2, alpha: 4, targetModules: ["fc1", "fc2"]), key: RandomKey(seed: 24))
        let cast = ComputePrecision(.bfloat16).castFrozenParameters(of: model)
        XCTAssertEqual(cast.sorted(), ["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"])
        var baseBytes = 0
        for (key, slot) in model.namedSlots() {
            let value = slot.value!
            if key.contains("lora_") {
                XCTAssertEqual(value.dtype, .float32, key)
                XCTAssertFalse(slot.isFrozen, key)
            } else if !slot.isBuffer {
                XCTAssertEqual(value.dtype, .bfloat16, key)
                baseBytes += value.count * value.dtype.size
            }
        }
        XCTAssertEqual(baseBytes * 2, fullBytes - 3 * 4, "the base's bytes halve (the buffer aside)")
        let (_, gradients) = valueAndGrad(model: model, computeDType: .bfloat16) {
            [(model(self.x) - self.target).square().mean()]
        }
        XCTAssertEqual(
            gradients.keys.sorted(),
            ["fc1.lora_A.weight", "fc1.lora_B.weight", "fc2.lora_A.weight", "fc2.lora_B.weight"])
        XCTAssert(gradients.values.allSatisfy { $0.dtype == .float32 })
        XCTAssertEqual(model.lastDType, .bfloat16)
    }
}
