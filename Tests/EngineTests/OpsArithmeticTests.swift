import Engine
import Foundation
import TestSupport
import XCTest

/// Element-wise arithmetic (broadcasting), unary functions, comparisons and matrix products against PyTorch.
final class OpsArithmeticTests: XCTestCase {
    func testBroadcastingBinaryOps() throws {
        let a = try golden("arith.a"), b = try golden("arith.b"), bd = try golden("arith.bdiv")
        XCTAssertEqual(a.shape, [2, 3, 4])
        XCTAssertEqual(b.shape, [3, 1])
        assertClose(a + b, try golden("arith.add"), tolerance: 1e-6, "add")
        assertClose(a - b, try golden("arith.sub"), tolerance: 1e-6, "subtract")
        assertClose(a * b, try golden("arith.mul"), tolerance: 1e-6, "multiply")
        assertClose(a / bd, try golden("arith.div"), tolerance: 1e-6, "divide")
        assertClose(Tensor.maximum(a, b), try golden("arith.maximum"), tolerance: 0, "maximum")
        assertClose(Tensor.minimum(a, b), try golden("arith.minimum"), tolerance: 0, "minimum")
        assertClose(a.logAddExp(b), try golden("arith.logaddexp"), tolerance: 1e-6, "logAddExp")
        assertClose(Tensor.arctan2(a, b), try golden("arith.atan2"), tolerance: 1e-6, "arctan2")
    }

    func testRemainderAndFloorDivisionFollowTheDivisorsSign() throws {
        let a = try golden("arith.a"), bd = try golden("arith.bdiv")
        // The divisor mixes signs, so C-style truncation would differ from the Python convention in some elements.
        XCTAssertTrue(bd.toArray(Float.self).contains { $0 < 0 } && bd.toArray(Float.self).contains { $0 > 0 })
        assertClose((a * 3).remainder(bd), try golden("arith.remainder"), tolerance: 1e-5, "remainder")
        assertClose((a * 3).floorDivide(bd), try golden("arith.floor_divide"), tolerance: 0, "floorDivide")
    }

    func testScalarOperandsOnEitherSide() throws {
        let a = try golden("arith.a"), bd = try golden("arith.bdiv")
        assertClose((a * 0.5 + 2) / 4 - 1, try golden("arith.scalar"), tolerance: 1e-6, "tensor-scalar chain")
        assertClose(1 - a, try golden("arith.rsub"), tolerance: 1e-6, "scalar - tensor")
        assertClose(2 / bd, try golden("arith.rdiv"), tolerance: 1e-6, "scalar / tensor")
    }

    func testScalarOperandKeepsReducedPrecisionDtype() {
        let x = Tensor([1, 2, 3] as [Float]).asType(.bfloat16)
        XCTAssertEqual((x * 0.5).dtype, .bfloat16)
        XCTAssertEqual((2 - x).dtype, .bfloat16)
        XCTAssertEqual(x.pow(2).dtype, .bfloat16)
    }

    func testPowerClipAndWhere() throws {
        let a = try golden("arith.a"), b = try golden("arith.b"), base = try golden("arith.pow.base")
        assertClose(base.pow(a), try golden("arith.pow"), tolerance: 1e-5, "pow(tensor)")
        assertClose(base.pow(2.5), try golden("arith.pow_scalar"), tolerance: 1e-5, "pow(scalar)")
        assertClose(a.clipped(min: -0.5, max: 0.7), try golden("arith.clip"), tolerance: 0, "clip")
        assertClose(Tensor.where(a .> b, a, b * 2), try golden("arith.where"), tolerance: 0, "where")
        // One-sided clipping: only the given bound applies.
        XCTAssertEqual(Tensor([-2, 0, 2] as [Float]).clipped(min: -1).toArray(Float.self), [-1, 0, 2])
        XCTAssertEqual(Tensor([-2, 0, 2] as [Float]).clipped(max: 1).toArray(Float.self), [-2, 0, 1])
    }

    func testComparisonsGiveBooleans() throws {
        let a = try golden("arith.a").rounded(), b = try golden("arith.b").rounded()
        let cases: [(String, Tensor)] = [
            ("eq", a .== b), ("ne", a .!= b), ("lt", a .< b), ("le", a .<= b), ("gt", a .> b), ("ge", a .>= b)
        ]
        for (name, result) in cases {
            XCTAssertEqual(result.dtype, .bool, name)
            // Stored as 0/1 floats by the generator.
            assertEqualValues(result.asType(.float32), try golden("arith.cmp.\(name)"), name)
        }
        // The rounded inputs must produce some ties, or equality would be untested.
        XCTAssertGreaterThan((a .== b).asType(.float32).sum().item(Float.self), 0)
    }

    func testLogicalOpsAndFloatingClassification() {
        let p = Tensor([true, true, false, false]), q = Tensor([true, false, true, false])
        XCTAssertEqual((p .&& q).toArray(Bool.self), [true, false, false, false])
        XCTAssertEqual((p .|| q).toArray(Bool.self), [true, true, true, false])
        XCTAssertEqual(p.logicalNot().toArray(Bool.self), [false, false, true, true])

        let special = Tensor([1, .nan, .infinity, -.infinity] as [Float])
        XCTAssertEqual(special.isNaN().toArray(Bool.self), [false, true, false, false])
        XCTAssertEqual(special.isInf().toArray(Bool.self), [false, false, true, true])
        XCTAssertEqual(special.isFinite().toArray(Bool.self), [true, false, false, false])
    }

    func testUnaryFunctions() throws {
        let inputs = [
            "x": try golden("unary.x"), "pos": try golden("unary.pos"), "unit": try golden("unary.unit"),
            "halfoff": try golden("unary.halfoff")
        ]
        let cases: [(name: String, input: String, op: (Tensor) -> Tensor)] = [
            ("neg", "x", { -$0 }), ("abs", "x", { $0.abs() }), ("sign", "x", { $0.sign() }), ("exp", "x", { $0.exp() }),
            ("expm1", "x", { $0.expm1() }), ("log", "pos", { $0.log() }), ("log1p", "pos", { $0.log1p() }),
            ("log2", "pos", { $0.log2() }), ("log10", "pos", { $0.log10() }), ("sqrt", "pos", { $0.sqrt() }),
            ("rsqrt", "pos", { $0.rsqrt() }), ("square", "x", { $0.square() }),
            ("reciprocal", "pos", { $0.reciprocal() }), ("sin", "x", { $0.sin() }), ("cos", "x", { $0.cos() }),
            ("tan", "unit", { $0.tan() }), ("tanh", "x", { $0.tanh() }), ("asin", "unit", { $0.arcsin() }),
            ("acos", "unit", { $0.arccos() }), ("atan", "x", { $0.arctan() }), ("sinh", "x", { $0.sinh() }),
            ("cosh", "x", { $0.cosh() }), ("erf", "x", { $0.erf() }), ("erfinv", "unit", { $0.erfinv() }),
            ("floor", "halfoff", { $0.floor() }), ("ceil", "halfoff", { $0.ceil() }),
            ("round", "halfoff", { $0.rounded() })
        ]
        for c in cases {
            assertClose(c.op(inputs[c.input]!), try golden("unary.\(c.name)"), tolerance: 2e-6, c.name)
        }
    }

    func testRoundingIsHalfToEven() {
        // PyTorch, NumPy and MLX all round ties to even; a half-away-from-zero round would give [1, 3, -1, -3].
        XCTAssertEqual(Tensor([0.5, 2.5, -0.5, -2.5] as [Float]).rounded().toArray(Float.self), [0, 2, -0, -2])
    }

    func testMatrixProducts() throws {
        let a = try golden("matmul.a"), b = try golden("matmul.b")
        assertClose(a.matmul(b), try golden("matmul.out"), tolerance: 1e-6, "2-D")
        // Batch axes broadcast: [2, 1, 3, 4] @ [3, 4, 2] -> [2, 3, 3, 2].
        let batched = try golden("matmul.batched.a").matmul(try golden("matmul.batched.b"))
        XCTAssertEqual(batched.shape, [2, 3, 3, 2])
        assertClose(batched, try golden("matmul.batched.out"), tolerance: 1e-6, "batched")
        assertClose(
            try golden("matmul.vec").matmul(b), try golden("matmul.vec.out"), tolerance: 1e-6, "vector @ matrix")
        assertClose(
            try golden("addmm.c").addmm(a, b, alpha: 2, beta: 0.5), try golden("addmm.out"), tolerance: 1e-6,
            "addmm")
        XCTAssertEqual(a.T.shape, [4, 3])
        assertClose(a.T, a.transposed(1, 0), tolerance: 0, "T")
    }

    func testStopGradientKeepsValues() throws {
        let a = try golden("arith.a")
        assertClose(a.stopGradient(), a, tolerance: 0)
    }
}
