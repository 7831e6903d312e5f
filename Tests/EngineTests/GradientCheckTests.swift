import Engine
import Foundation
import TestSupport
import XCTest

/// Gradients checked two independent ways: against PyTorch autograd (the `grad.*` goldens: the vector-Jacobian
/// product of each op with a stored cotangent) and against central finite differences of the engine's own forward
/// pass, computed here in float32 for every input element.
final class GradientCheckTests: XCTestCase {
    /// Step for the central differences. With O(1) inputs, float32 rounding of the summed loss contributes about
    /// 1e-6 / (2·step) and truncation about step² · f''' / 6, so 1e-2 keeps both near 1e-4.
    static let step: Float = 1e-2
    /// Allowed finite-difference error relative to max(1, max |gradient|). The largest seen here is 3e-4 (the MLP's
    /// first weight); a wrong gradient (a missing term or factor, a transposed axis) is off by O(1).
    static let finiteDifferenceTolerance: Float = 2e-3

    /// `∂/∂inputs[i] sum(f(inputs) · cotangent)` by central differences, one element at a time.
    static func finiteDifferenceGradient(
        of f: ([Tensor]) -> Tensor, at inputs: [Tensor], cotangent: Tensor,
        input i: Int, step: Float = step
    ) -> Tensor {
        let shape = inputs[i].shape
        let base = inputs[i].toArray(Float.self)
        func loss(_ values: [Float]) -> Double {
            var arguments = inputs
            arguments[i] = Tensor(values, shape: shape)
            return Double((f(arguments) * cotangent).sum().item(Float.self))
        }
        var gradient = [Float](repeating: 0, count: base.count)
        for j in base.indices {
            var plus = base, minus = base
            plus[j] += step
            minus[j] -= step
            // The rounded step actually taken, not the nominal one.
            let width = Double(plus[j]) - Double(minus[j])
            gradient[j] = Float((loss(plus) - loss(minus)) / width)
        }
        return Tensor(gradient, shape: shape)
    }

    /// Checks the op's forward output and its vjp against the PyTorch goldens, then the vjp against finite
    /// differences. `roles` name the inputs in the golden file (`grad.<name>.<role>`, gradients `d<role>`).
    private func check(
        _ name: String, inputs roles: [String], file: StaticString = #filePath, line: UInt = #line,
        _ f: @escaping ([Tensor]) -> Tensor
    ) throws {
        let inputs = try roles.map { try golden("grad.\(name).\($0)") }
        let cotangent = try golden("grad.\(name).cot")
        let (outputs, gradients) = vjp({ [f($0)] }, primals: inputs, cotangents: [cotangent])
        XCTAssertEqual(gradients.count, roles.count, name, file: file, line: line)
        assertClose(
            outputs[0], try golden("grad.\(name).out"), tolerance: 1e-5, "\(name) forward", file: file, line: line)
        for (i, role) in roles.enumerated() {
            let expected = try golden("grad.\(name).d\(role)")
            assertClose(gradients[i], expected, tolerance: 1e-4, "\(name) d\(role) vs autograd", file: file, line: line)
            let numeric = Self.finiteDifferenceGradient(of: f, at: inputs, cotangent: cotangent, input: i)
            assertClose(
                gradients[i], numeric, tolerance: Self.finiteDifferenceTolerance,
                "\(name) d\(role) vs finite differences", file: file, line: line)
        }
    }

    func testMatmul() throws {
        try check("matmul", inputs: ["a", "b"]) { $0[0].matmul($0[1]) }
    }

    func testConv2d() throws {
        try check("conv2d", inputs: ["x", "w"]) { conv2d($0[0], $0[1], padding: (1, 1)) }
    }

    func testConvTranspose2d() throws {
        try check("conv_transpose2d", inputs: ["x", "w"]) {
            convolutionTransposed(
                $0[0], $0[1], stride: [2, 2], padding: [1, 1], dilation: [1, 1],
                outputPadding: [1, 1])
        }
    }

    func testLayerNorm() throws {
        try check("layer_norm", inputs: ["x", "w", "b"]) { layerNorm($0[0], weight: $0[1], bias: $0[2], eps: 1e-5) }
    }

    func testRMSNorm() throws {
        try check("rms_norm", inputs: ["x", "w"]) { rmsNorm($0[0], weight: $0[1], eps: 1e-6) }
    }

    func testSoftmax() throws {
        try check("softmax", inputs: ["x"]) { softmax($0[0]) }
    }

    func testCausalAttention() throws {
        try check("sdpa", inputs: ["q", "k", "v"]) {
            scaledDotProductAttention(queries: $0[0], keys: $0[1], values: $0[2], scale: 0.35, mask: .causal)
        }
    }

    func testGelu() throws {
        try check("gelu", inputs: ["x"]) { gelu($0[0]) }
        try check("gelu_tanh", inputs: ["x"]) { geluApproximate($0[0]) }
    }

    func testTwoLayerPerceptron() throws {
        try check("mlp", inputs: ["x", "w1", "b1", "w2", "b2"]) {
            gelu($0[0].matmul($0[1]) + $0[2]).matmul($0[3]) + $0[4]
        }
    }

    /// Ops without a PyTorch gradient golden: finite differences alone.
    private func checkNumerically(
        _ name: String, _ inputs: [Tensor], file: StaticString = #filePath,
        line: UInt = #line, _ f: @escaping ([Tensor]) -> Tensor
    ) {
        let cotangent = Random.normal(f(inputs).shape, key: RandomKey(seed: 17))
        let (_, gradients) = vjp({ [f($0)] }, primals: inputs, cotangents: [cotangent])
        for i in inputs.indices {
            let numeric = Self.finiteDifferenceGradient(of: f, at: inputs, cotangent: cotangent, input: i)
            assertClose(
                gradients[i], numeric, tolerance: Self.finiteDifferenceTolerance, "\(name) input \(i)",
                file: file, line: line)
        }
    }

    func testAttentionWithoutMaskAndWithAdditiveMask() {
        let keys = RandomKey(seed: 21).split(into: 4)
        let q = Random.normal([1, 2, 3, 4], key: keys[0]), k = Random.normal([1, 2, 4, 4], key: keys[1])
        let v = Random.normal([1, 2, 4, 4], key: keys[2]), mask = Random.normal([1, 1, 3, 4], key: keys[3])
        checkNumerically("attention, no mask", [q, k, v]) {
            scaledDotProductAttention(queries: $0[0], keys: $0[1], values: $0[2], scale: 0.5)
        }
        checkNumerically("attention, additive mask", [q, k, v]) {
            scaledDotProductAttention(queries: $0[0], keys: $0[1], values: $0[2], scale: 0.5, mask: .array(mask))
        }
    }

    func testLogSoftmaxAndSiluNumerically() {
        let x = Random.normal([2, 5], key: RandomKey(seed: 22)) * 2
        checkNumerically("logSoftmax", [x]) { logSoftmax($0[0]) }
        checkNumerically("silu", [x]) { silu($0[0]) }
    }

    func testStridedGroupedConv1dNumerically() {
        let keys = RandomKey(seed: 23).split(into: 2)
        let x = Random.normal([1, 7, 4], key: keys[0]), w = Random.normal([4, 3, 2], key: keys[1]) * 0.5
        checkNumerically("conv1d", [x, w]) { conv1d($0[0], $0[1], stride: 2, padding: 1, dilation: 2, groups: 2) }
    }

    func testValueAndGradAgreesWithVJP() throws {
        let a = try golden("grad.matmul.a"), b = try golden("grad.matmul.b"), cot = try golden("grad.matmul.cot")
        let (values, gradients) = valueAndGrad { [($0[0].matmul($0[1]) * cot).sum()] }([a, b])
        XCTAssertEqual(values[0].item(Float.self), (a.matmul(b) * cot).sum().item(Float.self), accuracy: 1e-5)
        assertClose(gradients[0], try golden("grad.matmul.da"), tolerance: 1e-4, "da")
        assertClose(gradients[1], try golden("grad.matmul.db"), tolerance: 1e-4, "db")
    }

    /// The checker itself must be able to fail: a deliberately wrong gradient is far outside the tolerance.
    func testFiniteDifferencesCatchAWrongGradient() {
        let x = Random.normal([6], key: RandomKey(seed: 24))
        let cotangent = Tensor.ones([6])
        let numeric = Self.finiteDifferenceGradient(of: { $0[0].square() }, at: [x], cotangent: cotangent, input: 0)
        assertClose(numeric, x * 2, tolerance: Self.finiteDifferenceTolerance, "d/dx x² = 2x")
        // Forgetting the factor 2 is a typical hand-written-gradient bug.
        XCTAssertGreaterThan(
            maxAbsDifference(numeric, x),
            10 * Self.finiteDifferenceTolerance * max(1, 2 * x.abs().max().item(Float.self)))
    }
}
