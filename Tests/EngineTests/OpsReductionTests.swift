import Engine
import Foundation
import TestSupport
import XCTest

/// Reductions, variance, cumulative sums and sorting against PyTorch.
final class OpsReductionTests: XCTestCase {
    func testSumMeanMaxMinProd() throws {
        let x = try golden("reduce.x")
        assertClose(x.sum(), try golden("reduce.sum_all"), tolerance: 1e-6, "sum all")
        assertClose(x.sum(axis: 1), try golden("reduce.sum_1"), tolerance: 1e-6, "sum axis 1")
        let kept = x.sum(axes: [0, 2], keepDims: true)
        XCTAssertEqual(kept.shape, [1, 3, 1])
        assertClose(kept, try golden("reduce.sum_02_keep"), tolerance: 1e-6, "sum axes 0,2 keepDims")
        assertClose(x.mean(axis: -1), try golden("reduce.mean_m1"), tolerance: 1e-6, "mean axis -1")
        assertClose(x.max(axis: 1), try golden("reduce.max_1"), tolerance: 0, "max axis 1")
        assertClose(x.min(), try golden("reduce.min_all"), tolerance: 0, "min all")
        assertClose((x * 0.5 + 1).prod(axes: [2]), try golden("reduce.prod_2"), tolerance: 1e-6, "prod axis 2")
    }

    func testLogSumExp() throws {
        let x = try golden("reduce.x")
        assertClose(x.logSumExp(axes: [-1]), try golden("reduce.logsumexp_m1"), tolerance: 1e-6, "axis -1")
        assertClose(x.logSumExp(axes: [0, 1]), try golden("reduce.logsumexp_01"), tolerance: 1e-6, "axes 0,1")
        // Large inputs must not overflow: log(e^1000 + e^1000) = 1000 + log 2.
        let big = Tensor([1000, 1000] as [Float]).logSumExp().item(Float.self)
        XCTAssertEqual(big, 1000 + Foundation.log(2), accuracy: 1e-3)
    }

    func testArgMaxArgMin() throws {
        let x = try golden("reduce.x")
        assertEqualValues(x.argMax(axis: 1).asType(.int32), try golden("reduce.argmax_1"), "argMax")
        assertEqualValues(x.argMin(axis: -1).asType(.int32), try golden("reduce.argmin_m1"), "argMin")
        XCTAssertEqual(x.argMax(axis: 1, keepDims: true).shape, [2, 1, 4])
    }

    func testVarianceAndStandardDeviation() throws {
        let x = try golden("reduce.x")
        for ddof in [0, 1] {
            assertClose(
                x.variance(axes: [-1], ddof: ddof), try golden("reduce.var_m1_ddof\(ddof)"), tolerance: 1e-6,
                "variance ddof \(ddof)")
            assertClose(
                x.std(ddof: ddof), try golden("reduce.std_all_ddof\(ddof)"), tolerance: 1e-6, "std ddof \(ddof)")
            assertClose(
                x.variance(axes: [0, 2], keepDims: true, ddof: ddof), try golden("reduce.var_02_ddof\(ddof)"),
                tolerance: 1e-6, "variance axes 0,2 ddof \(ddof)")
        }
    }

    func testCumulativeSums() throws {
        let x = try golden("reduce.x")
        assertClose(x.cumsum(axis: 1), try golden("reduce.cumsum_1"), tolerance: 1e-6, "inclusive")
        assertClose(
            x.cumsum(axis: -1, reverse: true), try golden("reduce.cumsum_m1_reverse"), tolerance: 1e-6, "reverse")
        assertClose(
            x.cumsum(axis: -1, inclusive: false), try golden("reduce.cumsum_m1_exclusive"), tolerance: 1e-6,
            "exclusive")
    }

    func testSortAndArgSort() throws {
        let x = try golden("reduce.x")
        assertClose(x.sorted(axis: -1), try golden("reduce.sort_m1"), tolerance: 0, "sort")
        assertEqualValues(x.argSort(axis: 1).asType(.int32), try golden("reduce.argsort_1"), "argSort")
    }

    func testAllAndAny() {
        let m = Tensor([true, false, true, true, true, true], shape: [2, 3])
        XCTAssertEqual(m.all().item(Bool.self), false)
        XCTAssertEqual(m.any().item(Bool.self), true)
        XCTAssertEqual(m.all(axes: [1]).toArray(Bool.self), [false, true])
        XCTAssertEqual(m.logicalNot().any(axes: [0]).toArray(Bool.self), [false, true, false])
    }
}
