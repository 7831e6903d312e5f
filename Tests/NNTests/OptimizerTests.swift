import XCTest
import Engine
import NN
import TestSupport

// AdamW and SGD against PyTorch step for step (tools/goldens/optimizers.py). The golden's gradients are fixed, so the
// comparison tests the update rule alone; the end-to-end case takes its gradients from the engine's autodiff.

/// The golden's parameters under their golden keys: `scale`, `linear.weight`, `linear.bias`.
final class OptimizerToyModel: Module {
    @Param var scale: Tensor
    let linear: Linear

    init(_ golden: [String: Tensor], prefix: String) {
        scale = golden["\(prefix).scale"]!
        linear = Linear(weight: golden["\(prefix).linear.weight"]!, bias: golden["\(prefix).linear.bias"]!)
        super.init()
    }

    static let keys = ["scale", "linear.weight", "linear.bias"]
}

final class OptimizerTests: XCTestCase {
    private var golden: [String: Tensor] = [:]

    override func setUpWithError() throws { golden = try Fixture.load("optimizers.safetensors") }

    /// Runs `steps` golden steps of `goldenCase` through `optimizer` and checks every parameter after each one.
    private func replay(
        _ goldenCase: String, _ optimizer: Optimizer, steps: Range<Int> = 0..<5, tolerance: Float = 1e-6,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        for step in steps {
            let expectedRate = golden["\(goldenCase).step\(step).lr"]!.item(Float.self)
            XCTAssertEqual(
                Float(optimizer.learningRate), expectedRate, accuracy: 1e-9, "lr of step \(step)", file: file,
                line: line)
            let gradients = Dictionary(
                uniqueKeysWithValues: OptimizerToyModel.keys.map {
                    ($0, golden["\(goldenCase).step\(step).grad.\($0)"]!)
                })
            try optimizer.step(gradients: gradients)
            eval(optimizer.tensorsToEvaluate)
            let parameters = optimizer.model.parameters()
            for key in OptimizerToyModel.keys {
                let error = maxAbsDifference(parameters[key]!, golden["\(goldenCase).step\(step).param.\(key)"]!)
                XCTAssertLessThanOrEqual(error, tolerance, "\(goldenCase) step \(step) \(key)", file: file, line: line)
            }
        }
        XCTAssertEqual(optimizer.stepCount, steps.upperBound, file: file, line: line)
    }

    private func adamW(_ model: Module, schedule: LRSchedule) -> AdamW {
        AdamW(
            model: model, schedule: schedule, betas: (0.9, 0.999), eps: 1e-8, weightDecay: 1e-2, noWeightDecay: "bias")
    }

    func testAdamWMatchesPyTorchForFiveSteps() throws {
        let model = OptimizerToyModel(golden, prefix: "adamw.initial")
        try replay("adamw", adamW(model, schedule: .constant(1e-2)))
    }

    func testAdamWReadsTheScheduleAtTheStepIndex() throws {
        // Warm-up of 2: the golden's steps use lr 0, 5e-3, 1e-2, 1e-2, 1e-2 (the first step only moves nothing).
        let model = OptimizerToyModel(golden, prefix: "adamw_warmup.initial")
        try replay("adamw_warmup", adamW(model, schedule: .constantWithWarmup(1e-2, warmupSteps: 2)))
    }

    func testAdamWEndToEndWithEngineGradients() throws {
        let model = Linear(weight: golden["adamw_e2e.initial.weight"]!, bias: golden["adamw_e2e.initial.bias"]!)
        let x = golden["adamw_e2e.x"]!, y = golden["adamw_e2e.y"]!
        let optimizer = AdamW(model: model, learningRate: 1e-2, betas: (0.9, 0.999), eps: 1e-8, weightDecay: 1e-2)
        for step in 0..<5 {
            let (values, gradients) = valueAndGrad(model: model) { [(model(x) - y).square().mean()] }
            XCTAssertEqual(
                values[0].item(Float.self), golden["adamw_e2e.step\(step).loss"]!.item(Float.self), accuracy: 1e-5)
            try optimizer.step(gradients: gradients)
            eval(optimizer.tensorsToEvaluate)
            assertClose(
                model.weight, golden["adamw_e2e.step\(step).param.weight"]!, tolerance: 1e-5, "weight, step \(step)")
            assertClose(model.bias!, golden["adamw_e2e.step\(step).param.bias"]!, tolerance: 1e-5, "bias, step \(step)")
        }
    }

    func testSGDWithMomentumDampeningAndWeightDecayMatchesPyTorch() throws {
        let model = OptimizerToyModel(golden, prefix: "sgd.initial")
        try replay("sgd", SGD(model: model, learningRate: 0.1, momentum: 0.9, dampening: 0.1, weightDecay: 1e-2))
    }

    func testSGDNesterovMatchesPyTorch() throws {
        let model = OptimizerToyModel(golden, prefix: "sgd_nesterov.initial")
        try replay("sgd_nesterov", SGD(model: model, learningRate: 0.1, momentum: 0.9, nesterov: true))
    }

    func testParametersWithoutGradientAreLeftAlone() throws {
        let model = OptimizerToyModel(golden, prefix: "adamw.initial")
        let optimizer = adamW(model, schedule: .constant(1e-2))
        let scaleBefore = model.scale
        try optimizer.step(gradients: ["linear.weight": golden["adamw.step0.grad.linear.weight"]!])
        eval(optimizer.tensorsToEvaluate)
        XCTAssertEqual(maxAbsDifference(model.scale, scaleBefore), 0)
        XCTAssertEqual(
            maxAbsDifference(model.linear.weight, golden["adamw.step0.param.linear.weight"]!), 0, accuracy: 1e-6)
        XCTAssertEqual(optimizer.parameterSteps, ["linear.weight": 1])
        XCTAssertEqual(Set(optimizer.state.keys), ["linear.weight"])
    }

    func testHalfPrecisionParametersKeepFloat32Moments() throws {
        let weight = golden["adamw.initial.linear.weight"]!
        let model = Linear(weight: weight.asType(.bfloat16))
        let reference = Linear(weight: weight.asType(.bfloat16).asType(.float32))
        let gradient = golden["adamw.step0.grad.linear.weight"]!
        let optimizer = AdamW(model: model, learningRate: 1e-2)
        let referenceOptimizer = AdamW(model: reference, learningRate: 1e-2)
        try optimizer.step(gradients: ["weight": gradient.asType(.bfloat16)])
        try referenceOptimizer.step(gradients: ["weight": gradient.asType(.bfloat16).asType(.float32)])
        XCTAssertEqual(model.weight.dtype, .bfloat16)
        XCTAssertEqual(optimizer.state["weight"]?["exp_avg"]?.dtype, .float32)
        XCTAssertEqual(optimizer.state["weight"]?["exp_avg_sq"]?.dtype, .float32)
        // Same float32 arithmetic, then one rounding to bf16 (relative step 2⁻⁸ at |w| < 2).
        XCTAssertLessThanOrEqual(maxAbsDifference(model.weight, reference.weight), 2.0 / 256)
        XCTAssertEqual(maxAbsDifference(model.weight, reference.weight.asType(.bfloat16)), 0)
    }

    func testBadGradientsThrowAndChangeNothing() throws {
        let model = OptimizerToyModel(golden, prefix: "adamw.initial")
        model.freeze(matching: "scale")
        let optimizer = adamW(model, schedule: .constant(1e-2))
        let before = model.parameters()
        let gradients = [
            "linear.weight": Tensor.zeros([4, 3]),
            "scale": Tensor.zeros([5]),
            "nothing": Tensor.zeros([1]),
            "linear.bias": Tensor.zeros([3])
        ]
        XCTAssertThrowsError(try optimizer.step(gradients: gradients)) { error in
            let message = String(describing: error)
            XCTAssert(message.contains("'linear.weight' has shape [4, 3], parameter has [3, 4]"), message)
            XCTAssert(message.contains("'scale' is not a trainable parameter"), message)
            XCTAssert(message.contains("'nothing' is not a trainable parameter"), message)
            XCTAssertFalse(message.contains("linear.bias"), message)
        }
        XCTAssertEqual(optimizer.stepCount, 0)
        XCTAssertTrue(optimizer.state.isEmpty)
        for (key, value) in model.parameters() { XCTAssertEqual(maxAbsDifference(value, before[key]!), 0, key) }
    }
}
