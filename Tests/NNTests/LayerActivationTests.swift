import Engine
import NN
import TestSupport
import XCTest

/// Activation functions and layers against PyTorch, and dropout's modes.
final class LayerActivationTests: XCTestCase {
    func testActivationsMatchTorch() {
        let x = LayerFixture.tensor("act.x")
        let cases: [(String, Activation, Module & UnaryLayer)] = [
            ("gelu", .gelu, GELU()), ("gelu_tanh", .geluTanh, GELU(approximate: .tanh)),
            ("quick_gelu", .quickGelu, QuickGELU()), ("silu", .silu, SiLU()), ("relu", .relu, ReLU()),
            ("tanh", .tanh, Tanh()), ("sigmoid", .sigmoid, Sigmoid())
        ]
        for (name, function, layer) in cases {
            let expected = LayerFixture.tensor("act.\(name)")
            assertClose(function(x), expected, name)
            assertClose(layer(x), expected, name)
            assertClose(ActivationLayer(function)(x), expected, name)
            XCTAssertEqual(Activation(rawValue: name), function)
        }
        assertClose(LeakyReLU(negativeSlope: 0.2)(x), LayerFixture.tensor("act.leaky_relu"))
        assertClose(Identity()(x), x, tolerance: 0)
    }

    func testDropoutIsIdentityInEvaluationAndScalesInTraining() {
        let x = Tensor.ones([200, 50])
        let dropout = Dropout(0.25, key: RandomKey(seed: 7))
        dropout.train(false)
        assertClose(dropout(x), x, tolerance: 0)

        dropout.train(true)
        let first = dropout(x), second = dropout(x)
        let values = Set(first.toArray(Float.self))
        XCTAssertEqual(values, [0, 1 / 0.75])
        let keptFraction = (first .> 0).asType(.float32).mean().item(Float.self)
        XCTAssertEqual(keptFraction, 0.75, accuracy: 0.02)
        XCTAssertGreaterThan(maxAbsDifference(first, second), 0, "each call draws a new mask")
        assertClose(Dropout(0)(x), x, tolerance: 0)
    }
}
