import Foundation
internal import CMLXShim

/// An n-dimensional array: a value over `mlx::core::array`.
///
/// MLX arrays are immutable nodes of a lazy graph; copying a `Tensor` copies a reference-counted handle, and every
/// operation returns a new tensor, so the type has value semantics. Nothing is computed until ``eval(_:)`` (or a
/// read such as ``toArray(_:)``) asks for it.
public struct Tensor: @unchecked Sendable {
    var raw: mlx.core.array

    init(_ raw: mlx.core.array) { self.raw = raw }

    // MARK: - Inspection

    public var dtype: DType { DType(dg.dtypeOf(raw)) }
    public var ndim: Int { Int(dg.ndim(raw)) }
    public var shape: [Int] { (0..<ndim).map { Int(dg.dim(raw, Int32($0))) } }
    public var count: Int { Int(dg.size(raw)) }
    public var nbytes: Int { Int(dg.nbytes(raw)) }

    /// Size of one axis; negative axes count from the end.
    public func dim(_ axis: Int) -> Int {
        let a = axis < 0 ? axis + ndim : axis
        precondition(a >= 0 && a < ndim, "dim: axis \(axis) out of range for shape \(shape)")
        return Int(dg.dim(raw, Int32(a)))
    }

    /// A stable identity of the underlying graph node (equal for copies of the same tensor).
    public var identity: UInt { UInt(dg.identity(raw)) }

    // MARK: - Creation

    /// A tensor holding `values` (row-major) with the given shape.
    public init<T: TensorScalar>(_ values: [T], shape: [Int]) {
        let expected = shape.reduce(1, *)
        precondition(
            values.count == expected,
            "Tensor(_:shape:): \(values.count) values for shape \(shape) (\(expected) expected)")
        self = values.withUnsafeBytes { Tensor(bytes: $0.baseAddress!, shape: shape, dtype: T.dtype) }
    }

    /// A 1-D tensor.
    public init<T: TensorScalar>(_ values: [T]) { self.init(values, shape: [values.count]) }

    /// A 0-D tensor.
    public init(_ value: Float) { self = Tensor.scalar(Double(value), dtype: .float32) }
    public init(_ value: Int32) { self.init([value], shape: []) }
    public init(_ value: Bool) { self.init([value], shape: []) }

    /// A tensor built from raw little-endian bytes of `dtype` (copied).
    public init(bytes: UnsafeRawPointer, shape: [Int], dtype: DType) {
        let raw = withInt32s(shape) { dg.fromBytes(bytes, $0, $1, dtype.code) }
        self = checked("Tensor(bytes:shape:dtype:)", [], raw)
    }

    /// A 0-D tensor of `dtype` holding `value`.
    public static func scalar(_ value: Double, dtype: DType = .float32) -> Tensor {
        if dtype.isInteger || dtype == .bool {
            return checked("scalar", [], dg.scalarInt(Int64(value), dtype.code))
        }
        return checked("scalar", [], dg.scalarFloat(value, dtype.code))
    }

    public static func zeros(_ shape: [Int], dtype: DType = .float32) -> Tensor { full(shape, 0, dtype: dtype) }
    public static func ones(_ shape: [Int], dtype: DType = .float32) -> Tensor { full(shape, 1, dtype: dtype) }
    public static func zeros(like t: Tensor) -> Tensor { zeros(t.shape, dtype: t.dtype) }
    public static func ones(like t: Tensor) -> Tensor { ones(t.shape, dtype: t.dtype) }

    public static func full(_ shape: [Int], _ value: Double, dtype: DType = .float32) -> Tensor {
        let v = scalar(value, dtype: dtype)
        return checked("full", [], withInt32s(shape) { dg.full($0, $1, v.raw, dtype.code) })
    }

    /// Values `start, start+step, …` below `stop`.
    public static func arange(_ start: Double, _ stop: Double, step: Double = 1, dtype: DType = .float32) -> Tensor {
        checked("arange", [], dg.arange(start, stop, step, dtype.code))
    }
    public static func arange(_ stop: Int, dtype: DType = .int32) -> Tensor { arange(0, Double(stop), dtype: dtype) }

    /// `count` evenly spaced values from `start` to `stop` inclusive.
    public static func linspace(_ start: Double, _ stop: Double, count: Int, dtype: DType = .float32) -> Tensor {
        checked("linspace", [], dg.linspace(start, stop, Int32(count), dtype.code))
    }

    public static func eye(_ n: Int, dtype: DType = .float32) -> Tensor {
        checked("eye", [], dg.eye(Int32(n), dtype.code))
    }

    /// Lower-triangular ones: element (i, j) is 1 where j ≤ i + k.
    public static func tri(_ n: Int, _ m: Int? = nil, k: Int = 0, dtype: DType = .float32) -> Tensor {
        checked("tri", [], dg.tri(Int32(n), Int32(m ?? n), Int32(k), dtype.code))
    }

    // MARK: - Reading values

    /// Evaluates the tensor and returns its elements in row-major order, converted to `T`.
    public func toArray<T: TensorScalar>(_ type: T.Type = T.self) -> [T] {
        let n = count
        var out = [T](unsafeUninitializedCapacity: n) { _, initialized in initialized = n }
        let ok = out.withUnsafeMutableBytes { dg.copyOut(raw, T.dtype.code, $0.baseAddress, $0.count) }
        _ = ok || checkStatus("toArray", [self])
        return out
    }

    /// Evaluates and returns the raw bytes in row-major order, in this tensor's dtype.
    public func bytes() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: nbytes)
        let ok = out.withUnsafeMutableBytes { dg.copyOut(raw, dtype.code, $0.baseAddress, $0.count) }
        _ = ok || checkStatus("bytes", [self])
        return out
    }

    /// The single element of a tensor with one element.
    public func item<T: TensorScalar>(_ type: T.Type = T.self) -> T {
        precondition(count == 1, "item: tensor of shape \(shape) has \(count) elements, not 1")
        return toArray(T.self)[0]
    }

    /// The tensor converted to another dtype.
    public func asType(_ dtype: DType) -> Tensor {
        if dtype == self.dtype { return self }
        return checked("asType(\(dtype))", [self], dg.astype(raw, dtype.code))
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let limit = 16
        let head: [Double] = count <= limit ? toArray(Double.self) : Array(flattened()[0..<limit].toArray(Double.self))
        let values = head.map { String(format: "%.6g", $0) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), dtype: \(dtype), [\(values)\(count > limit ? ", …" : "")])"
    }
}

/// Calls `body` with an `Int32` buffer of `values` (the shim's shape/axis convention).
@inline(__always)
func withInt32s<R>(_ values: [Int], _ body: (UnsafePointer<Int32>?, Int32) -> R) -> R {
    let converted = values.map { Int32($0) }
    return converted.withUnsafeBufferPointer { body($0.baseAddress, Int32($0.count)) }
}

/// Builds the shim's array vector from tensors.
func makeVector(_ tensors: [Tensor]) -> dg.ArrayVector {
    var v = dg.vectorNew()
    for t in tensors { dg.vectorPush(&v, t.raw) }
    return v
}

/// Unpacks the shim's array vector.
func tensors(of v: dg.ArrayVector) -> [Tensor] {
    (0..<dg.vectorSize(v)).map { Tensor(dg.vectorAt(v, $0)) }
}
