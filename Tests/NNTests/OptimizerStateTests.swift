import XCTest
import Engine
import NN
import TestSupport

/// Saving and restoring optimizer state: a run interrupted after two steps and resumed from a file must land on the
/// same parameters as PyTorch's uninterrupted run.
final class OptimizerStateTests: XCTestCase {
    private var golden: [String: Tensor] = [:]

    override func setUpWithError() throws { golden = try Fixture.load("optimizers.safetensors") }

    private func gradients(_ goldenCase: String, step: Int) -> [String: Tensor] {
        Dictionary(
            uniqueKeysWithValues: OptimizerToyModel.keys.map { ($0, golden["\(goldenCase).step\(step).grad.\($0)"]!) })
    }

    private func adamW(_ model: Module) -> AdamW {
        AdamW(
            model: model, schedule: .constantWithWarmup(1e-2, warmupSteps: 2), weightDecay: 1e-2, noWeightDecay: "bias")
    }

    func testAdamWResumedFromFileMatchesTheUninterruptedRun() throws {
        let folder = try temporaryDirectory(self)
        let first = OptimizerToyModel(golden, prefix: "adamw_warmup.initial")
        let optimizer = adamW(first)
        for step in 0..<2 { try optimizer.step(gradients: gradients("adamw_warmup", step: step)) }
        eval(optimizer.tensorsToEvaluate)
        XCTAssertEqual(
            optimizer.stateTensors().keys.sorted(),
            [
                "state.linear.bias.exp_avg", "state.linear.bias.exp_avg_sq", "state.linear.bias.step",
                "state.linear.weight.exp_avg", "state.linear.weight.exp_avg_sq", "state.linear.weight.step",
                "state.scale.exp_avg", "state.scale.exp_avg_sq", "state.scale.step",
                "step"
            ])
        let url = folder.appendingPathComponent("optimizer.safetensors")
        try optimizer.saveState(to: url)

        // A new process: the model from its own checkpoint, a fresh optimizer, the state from the file.
        let resumed = OptimizerToyModel(golden, prefix: "adamw_warmup.step1.param")
        let resumedOptimizer = adamW(resumed)
        try resumedOptimizer.loadState(from: url)
        XCTAssertEqual(resumedOptimizer.stepCount, 2)
        XCTAssertEqual(resumedOptimizer.learningRate, 1e-2)
        XCTAssertEqual(resumedOptimizer.parameterSteps, ["scale": 2, "linear.weight": 2, "linear.bias": 2])
        for step in 2..<5 { try resumedOptimizer.step(gradients: gradients("adamw_warmup", step: step)) }
        eval(resumedOptimizer.tensorsToEvaluate)
        let parameters = resumed.parameters()
        for key in OptimizerToyModel.keys {
            XCTAssertLessThanOrEqual(
                maxAbsDifference(parameters[key]!, golden["adamw_warmup.step4.param.\(key)"]!), 1e-6, key)
        }
    }

    func testSGDStateRoundTrips() throws {
        let model = OptimizerToyModel(golden, prefix: "sgd.initial")
        let optimizer = SGD(model: model, learningRate: 0.1, momentum: 0.9, dampening: 0.1, weightDecay: 1e-2)
        try optimizer.step(gradients: gradients("sgd", step: 0))
        let saved = optimizer.stateTensors()
        XCTAssertEqual(
            saved.keys.sorted(),
            [
                "state.linear.bias.momentum_buffer", "state.linear.weight.momentum_buffer",
                "state.scale.momentum_buffer", "step"
            ])
        let restored = SGD(model: model, learningRate: 0.1, momentum: 0.9, dampening: 0.1, weightDecay: 1e-2)
        try restored.loadState(saved)
        XCTAssertEqual(restored.stepCount, 1)
        for key in OptimizerToyModel.keys {
            XCTAssertEqual(
                maxAbsDifference(restored.state[key]!["momentum_buffer"]!, optimizer.state[key]!["momentum_buffer"]!), 0
            )
        }
    }

    func testMismatchedStateIsRejectedWithEveryProblemNamed() throws {
        let model = OptimizerToyModel(golden, prefix: "adamw.initial")
        let optimizer = adamW(model)
        let bad: [String: Tensor] = [
            "state.linear.weight.exp_avg": Tensor.zeros([4, 3]),
            "state.linear.weight.exp_avg_sq": Tensor.zeros([3, 4]),
            "state.linear.weight.step": Tensor(Int32(1)),
            "state.missing.exp_avg": Tensor.zeros([1]),
            "state.scale.momentum_buffer": Tensor.zeros([5]),
            "state.linear.bias.exp_avg": Tensor.zeros([3]),
            "extra": Tensor.zeros([1])
        ]
        XCTAssertThrowsError(try optimizer.loadState(bad, source: "bad.safetensors")) { error in
            let message = String(describing: error)
            for fragment in [
                "bad.safetensors", "'state.linear.weight.exp_avg': shape [4, 3], parameter has [3, 4]",
                "'missing' is not a trainable parameter", "keeps no state named 'momentum_buffer'",
                "'linear.bias': missing exp_avg_sq, step", "unexpected key 'extra'", "missing 'step'"
            ] {
                XCTAssert(message.contains(fragment), "'\(fragment)' not in: \(message)")
            }
        }
        XCTAssertEqual(optimizer.stepCount, 0)
        XCTAssertTrue(optimizer.state.isEmpty)
    }

    func testStateOfAnotherOptimizerKindIsRefused() throws {
        let url = try temporaryDirectory(self).appendingPathComponent("sgd.safetensors")
        let model = OptimizerToyModel(golden, prefix: "adamw.initial")
        try SGD(model: model, learningRate: 0.1).saveState(to: url)
        XCTAssertThrowsError(try adamW(model).loadState(from: url)) { error in
            XCTAssert(String(describing: error).contains("written by SGD, cannot load into AdamW"), "\(error)")
        }
    }
}
