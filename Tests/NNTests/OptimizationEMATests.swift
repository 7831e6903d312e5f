import XCTest
import Engine
import NN
import TestSupport

private final class Averaged: Module {
    @Param var weight: Tensor
    @Param var frozen: Tensor
    init(_ weight: Tensor) {
        self.weight = weight
        frozen = Tensor.ones([2])
        super.init()
        freeze(matching: "frozen")
    }
}

/// The EMA of parameters: diffusers' `EMAModel` warm-up rules (golden) and the constant decay DanceGRPO uses.
final class OptimizationEMATests: XCTestCase {
    private var golden: [String: Tensor] = [:]

    override func setUpWithError() throws { golden = try Fixture.load("optimizers.safetensors") }

    func testWarmupRulesMatchDiffusers() throws {
        let cases: [(String, ExponentialMovingAverage.Warmup)] = [
            ("ema_hyperbolic", .hyperbolic), ("ema_power", .power(inverseGamma: 1, power: 2.0 / 3))
        ]
        for (name, warmup) in cases {
            let model = Averaged(golden["\(name).initial"]!)
            let ema = ExponentialMovingAverage(model: model, decay: 0.9, warmup: warmup)
            XCTAssertEqual(Array(ema.shadow.keys), ["weight"], "frozen tensors are not averaged")
            for step in 0..<6 {
                XCTAssertEqual(
                    ema.decay(forUpdate: step + 1), golden["\(name).step\(step).decay"]!.item(Double.self),
                    accuracy: 1e-7, "\(name) update \(step + 1)")
                model.weight = golden["\(name).step\(step).param"]!
                try ema.update(from: model)
                XCTAssertLessThanOrEqual(
                    maxAbsDifference(ema.shadow["weight"]!, golden["\(name).step\(step).shadow"]!), 1e-6)
            }
            XCTAssertEqual(ema.updateCount, 6)
        }
    }

    func testConstantDecayAveragesFromTheInitialWeights() throws {
        let model = Averaged(Tensor.zeros([2]))
        let ema = ExponentialMovingAverage(model: model, decay: 0.75)
        model.weight = Tensor([4, 8] as [Float])
        try ema.update(from: model)
        XCTAssertEqual(ema.shadow["weight"]!.toArray(Float.self), [1, 2], accuracy: 1e-6)
        try ema.update(from: model)
        XCTAssertEqual(ema.shadow["weight"]!.toArray(Float.self), [1.75, 3.5], accuracy: 1e-6)
    }

    func testAveragedWeightsAreSwappedInAndRestored() throws {
        let model = Averaged(Tensor([1, 1] as [Float]).asType(.bfloat16))
        let ema = ExponentialMovingAverage(model: model, decay: 0.5)
        model.weight = Tensor([3, 5] as [Float]).asType(.bfloat16)
        try ema.update(from: model)
        XCTAssertEqual(ema.shadow["weight"]!.dtype, .float32)
        let inside = try ema.withAveragedParameters(in: model) { model.weight.toArray(Float.self) }
        XCTAssertEqual(inside, [2, 3], accuracy: 0)
        XCTAssertEqual(model.weight.toArray(Float.self), [3, 5], accuracy: 0)
        XCTAssertEqual(model.weight.dtype, .bfloat16)
        try ema.copy(to: model)
        XCTAssertEqual(model.weight.toArray(Float.self), [2, 3], accuracy: 0)
    }

    func testStateRoundTripsThroughAFileAndMismatchesAreNamed() throws {
        let url = try temporaryDirectory(self).appendingPathComponent("ema.safetensors")
        let model = Averaged(Tensor.zeros([3]))
        let ema = ExponentialMovingAverage(model: model, decay: 0.9, warmup: .hyperbolic)
        model.weight = Tensor.ones([3])
        for _ in 0..<3 { try ema.update(from: model) }
        try ema.saveState(to: url)

        let restored = ExponentialMovingAverage(model: Averaged(Tensor.zeros([3])), decay: 0.9, warmup: .hyperbolic)
        try restored.loadState(from: url)
        XCTAssertEqual(restored.updateCount, 3)
        XCTAssertEqual(maxAbsDifference(restored.shadow["weight"]!, ema.shadow["weight"]!), 0)

        XCTAssertThrowsError(
            try restored.loadState(["shadow.weight": Tensor.zeros([4]), "shadow.other": Tensor.zeros([1])])
        ) {
            let message = String(describing: $0)
            for fragment in [
                "'shadow.weight': shape [4], expected [3]", "'other' is not averaged", "missing scalar 'update_count'"
            ] {
                XCTAssert(message.contains(fragment), "'\(fragment)' not in: \(message)")
            }
        }
        XCTAssertThrowsError(try restored.update(from: Averaged(Tensor.zeros([5])))) {
            XCTAssert(String(describing: $0).contains("'weight' has shape [5], the average has [3]"), "\($0)")
        }
        XCTAssertEqual(restored.updateCount, 3)
    }
}
