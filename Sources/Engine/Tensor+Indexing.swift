// NumPy-style subscripts: `x[0]`, `x[1..<3]`, `x[.all, 2...]`, `x[.ellipsis, 0]`, `x[.newAxis]`,
// `x[.stride(0, nil, by: 2)]`. Integer indices drop their axis; negative values count from the end.

public enum TensorIndex: Sendable {
    case index(Int)
    case slice(start: Int?, end: Int?, stride: Int)
    case ellipsis
    case newAxis

    public static let all = TensorIndex.slice(start: nil, end: nil, stride: 1)
    public static func stride(_ start: Int?, _ end: Int?, by stride: Int) -> TensorIndex {
        .slice(start: start, end: end, stride: stride)
    }
}

public protocol TensorIndexConvertible { var tensorIndex: TensorIndex { get } }
extension TensorIndex: TensorIndexConvertible { public var tensorIndex: TensorIndex { self } }
extension Int: TensorIndexConvertible { public var tensorIndex: TensorIndex { .index(self) } }
extension Range: TensorIndexConvertible where Bound == Int {
    public var tensorIndex: TensorIndex { .slice(start: lowerBound, end: upperBound, stride: 1) }
}
/// What `.all`, `.ellipsis`, `.newAxis` and `.stride(…)` resolve to inside the variadic subscript, whose elements are
/// `any TensorIndexConvertible`: implicit member syntax there finds only static members declared on the protocol
/// (constrained to a concrete conforming type), and putting them on `TensorIndex` itself would clash with its cases.
public struct TensorIndexMarker: TensorIndexConvertible, Sendable {
    public let tensorIndex: TensorIndex
}
extension TensorIndexConvertible where Self == TensorIndexMarker {
    public static var all: TensorIndexMarker { TensorIndexMarker(tensorIndex: TensorIndex.all) }
    public static var ellipsis: TensorIndexMarker { TensorIndexMarker(tensorIndex: TensorIndex.ellipsis) }
    public static var newAxis: TensorIndexMarker { TensorIndexMarker(tensorIndex: TensorIndex.newAxis) }
    public static func stride(_ start: Int?, _ end: Int?, by stride: Int) -> TensorIndexMarker {
        TensorIndexMarker(tensorIndex: TensorIndex.stride(start, end, by: stride))
    }
}
extension ClosedRange: TensorIndexConvertible where Bound == Int {
    public var tensorIndex: TensorIndex { .slice(start: lowerBound, end: upperBound + 1, stride: 1) }
}
extension PartialRangeFrom: TensorIndexConvertible where Bound == Int {
    public var tensorIndex: TensorIndex { .slice(start: lowerBound, end: nil, stride: 1) }
}
extension PartialRangeUpTo: TensorIndexConvertible where Bound == Int {
    public var tensorIndex: TensorIndex { .slice(start: nil, end: upperBound, stride: 1) }
}
extension PartialRangeThrough: TensorIndexConvertible where Bound == Int {
    public var tensorIndex: TensorIndex { .slice(start: nil, end: upperBound + 1, stride: 1) }
}

extension Tensor {
    /// The slice plan for a subscript: per-axis bounds, the axes to drop, and where new axes go.
    private struct SlicePlan {
        var start: [Int] = [], stop: [Int] = [], strides: [Int] = []
        var droppedAxes: [Int] = []
        var outputShapeWithNewAxes: [Int?] = []  // nil marks a new axis
    }

    private func plan(_ indices: [TensorIndex]) -> SlicePlan {
        let explicitAxes = indices.filter {
            if case .index = $0 { return true }; if case .slice = $0 { return true }; return false
        }.count
        precondition(explicitAxes <= ndim, "subscript: \(explicitAxes) indices for a tensor of shape \(shape)")
        precondition(
            indices.filter {
                if case .ellipsis = $0 { return true }; return false
            }.count <= 1,
            "subscript: at most one .ellipsis")
        var expanded: [TensorIndex] = []
        for index in indices {
            if case .ellipsis = index {
                expanded += Array(repeating: TensorIndex.all, count: ndim - explicitAxes)
            } else {
                expanded.append(index)
            }
        }
        var p = SlicePlan()
        var axis = 0
        for index in expanded {
            if case .newAxis = index { p.outputShapeWithNewAxes.append(nil); continue }
            let n = shape[axis]
            switch index {
            case .index(let i):
                let j = i < 0 ? i + n : i
                precondition(j >= 0 && j < n, "subscript: index \(i) out of range for axis \(axis) of shape \(shape)")
                p.start.append(j); p.stop.append(j + 1); p.strides.append(1); p.droppedAxes.append(axis)
            case .slice(let s, let e, let stride):
                precondition(stride > 0, "subscript: stride must be positive, got \(stride)")
                func clampBound(_ v: Int?, _ fallback: Int) -> Swift.Int {
                    guard let v else { return fallback }
                    return Swift.min(Swift.max(v < 0 ? v + n : v, 0), n)
                }
                let lo = clampBound(s, 0), hi = Swift.max(clampBound(e, n), clampBound(s, 0))
                p.start.append(lo); p.stop.append(hi); p.strides.append(stride)
                p.outputShapeWithNewAxes.append((hi - lo + stride - 1) / stride)
            default: break
            }
            axis += 1
        }
        while axis < ndim {
            p.start.append(0); p.stop.append(shape[axis]); p.strides.append(1)
            p.outputShapeWithNewAxes.append(shape[axis]); axis += 1
        }
        return p
    }

    public subscript(_ indices: TensorIndexConvertible...) -> Tensor {
        get { self[indices.map(\.tensorIndex)] }
        set { self[indices.map(\.tensorIndex)] = newValue }
    }

    public subscript(_ indices: [TensorIndex]) -> Tensor {
        get {
            let p = plan(indices)
            var result = sliced(start: p.start, stop: p.stop, strides: p.strides)
            let finalShape = p.outputShapeWithNewAxes.map { $0 ?? 1 }
            if finalShape != result.shape { result = result.reshaped(finalShape) }
            return result
        }
        set {
            let p = plan(indices)
            let regionShape = zip(zip(p.start, p.stop), p.strides).map { ($0.1 - $0.0 + $1 - 1) / $1 }
            // The assigned value has the getter's shape (integer-indexed axes dropped); restore them for the update.
            let update = newValue.asType(dtype).broadcast(to: p.outputShapeWithNewAxes.compactMap { $0 })
                .reshaped(regionShape)
            self = updatingSlice(update, start: p.start, stop: p.stop, strides: p.strides)
        }
    }
}
