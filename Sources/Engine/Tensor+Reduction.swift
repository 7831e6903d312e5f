internal import CMLXShim

// Reductions. `axes: []` (the default) reduces over every axis; negative axes count from the end.

extension Tensor {
    func reduce(_ op: dg.ReduceOp, _ name: String, _ axes: [Int], _ keepDims: Bool) -> Tensor {
        checked("\(name)(axes: \(axes))", [self], withInt32s(axes) { dg.reduce(op, raw, $0, $1, keepDims) })
    }

    public func sum(axes: [Int] = [], keepDims: Bool = false) -> Tensor { reduce(.Sum, "sum", axes, keepDims) }
    public func mean(axes: [Int] = [], keepDims: Bool = false) -> Tensor { reduce(.Mean, "mean", axes, keepDims) }
    public func max(axes: [Int] = [], keepDims: Bool = false) -> Tensor { reduce(.Max, "max", axes, keepDims) }
    public func min(axes: [Int] = [], keepDims: Bool = false) -> Tensor { reduce(.Min, "min", axes, keepDims) }
    public func prod(axes: [Int] = [], keepDims: Bool = false) -> Tensor { reduce(.Prod, "prod", axes, keepDims) }
    public func logSumExp(axes: [Int] = [], keepDims: Bool = false) -> Tensor {
        reduce(.LogSumExp, "logSumExp", axes, keepDims)
    }
    public func all(axes: [Int] = [], keepDims: Bool = false) -> Tensor { reduce(.All, "all", axes, keepDims) }
    public func any(axes: [Int] = [], keepDims: Bool = false) -> Tensor { reduce(.Any, "any", axes, keepDims) }

    public func sum(axis: Int, keepDims: Bool = false) -> Tensor { sum(axes: [axis], keepDims: keepDims) }
    public func mean(axis: Int, keepDims: Bool = false) -> Tensor { mean(axes: [axis], keepDims: keepDims) }
    public func max(axis: Int, keepDims: Bool = false) -> Tensor { max(axes: [axis], keepDims: keepDims) }
    public func min(axis: Int, keepDims: Bool = false) -> Tensor { min(axes: [axis], keepDims: keepDims) }

    public func argMax(axis: Int, keepDims: Bool = false) -> Tensor {
        checked("argMax", [self], dg.argReduce(true, raw, Int32(axis), keepDims))
    }
    public func argMin(axis: Int, keepDims: Bool = false) -> Tensor {
        checked("argMin", [self], dg.argReduce(false, raw, Int32(axis), keepDims))
    }

    /// Variance with `ddof` delta degrees of freedom (ddof 1 is the unbiased estimate, PyTorch's default).
    public func variance(axes: [Int] = [], keepDims: Bool = false, ddof: Int = 0) -> Tensor {
        checked("variance", [self], withInt32s(axes) { dg.variance(raw, $0, $1, keepDims, Int32(ddof), false) })
    }
    /// Standard deviation with `ddof` delta degrees of freedom.
    public func std(axes: [Int] = [], keepDims: Bool = false, ddof: Int = 0) -> Tensor {
        checked("std", [self], withInt32s(axes) { dg.variance(raw, $0, $1, keepDims, Int32(ddof), true) })
    }

    public func cumsum(axis: Int, reverse: Bool = false, inclusive: Bool = true) -> Tensor {
        checked("cumsum", [self], dg.cumsum(raw, Int32(axis), reverse, inclusive))
    }
    public func sorted(axis: Int = -1) -> Tensor { checked("sort", [self], dg.sort(raw, Int32(axis))) }
    public func argSort(axis: Int = -1) -> Tensor { checked("argSort", [self], dg.argsort(raw, Int32(axis))) }
}
