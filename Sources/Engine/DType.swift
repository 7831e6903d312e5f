internal import CMLXShim

/// Element type of a ``Tensor``. Raw values are the shim's stable codes, not MLX's.
public enum DType: Int32, CaseIterable, Sendable, CustomStringConvertible, Codable {
    case bool = 0, uint8, uint16, uint32, uint64, int8, int16, int32, int64, float16, float32, float64, bfloat16,
        complex64

    var code: dg.DTypeCode { dg.DTypeCode(rawValue: rawValue)! }
    init(_ code: dg.DTypeCode) { self.init(rawValue: code.rawValue)! }

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .bool, .uint8, .int8: return 1
        case .uint16, .int16, .float16, .bfloat16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64, .complex64: return 8
        }
    }

    public var isFloatingPoint: Bool { [.float16, .float32, .float64, .bfloat16].contains(self) }
    public var isInteger: Bool { [.uint8, .uint16, .uint32, .uint64, .int8, .int16, .int32, .int64].contains(self) }

    public var description: String {
        switch self {
        case .bool: return "bool"
        case .uint8: return "uint8"
        case .uint16: return "uint16"
        case .uint32: return "uint32"
        case .uint64: return "uint64"
        case .int8: return "int8"
        case .int16: return "int16"
        case .int32: return "int32"
        case .int64: return "int64"
        case .float16: return "float16"
        case .float32: return "float32"
        case .float64: return "float64"
        case .bfloat16: return "bfloat16"
        case .complex64: return "complex64"
        }
    }
}

/// Swift scalar types that can move in and out of tensors without conversion.
public protocol TensorScalar: Sendable {
    static var dtype: DType { get }
}
extension Float: TensorScalar { public static var dtype: DType { .float32 } }
extension Double: TensorScalar { public static var dtype: DType { .float64 } }
extension Int32: TensorScalar { public static var dtype: DType { .int32 } }
extension Int64: TensorScalar { public static var dtype: DType { .int64 } }
extension UInt8: TensorScalar { public static var dtype: DType { .uint8 } }
extension UInt32: TensorScalar { public static var dtype: DType { .uint32 } }
extension Bool: TensorScalar { public static var dtype: DType { .bool } }
#if arch(arm64)
    extension Float16: TensorScalar { public static var dtype: DType { .float16 } }
#endif
