import Engine
import Foundation

// `dancegrpo inspect --verify`: every tensor of a checkpoint read from disk, its bytes counted and scanned for NaN
// and infinities, without the engine (no tensor is built, so nothing the file says reaches an allocation beyond the
// bytes the readers have already checked against the file). What a user runs on a download, and what the fuzz
// harness calls.

/// One tensor as read back: its size and how many of its values are not finite.
public struct TensorVerification: Sendable, Equatable {
    public let key: String
    public let dtype: DType
    public let shape: [Int]
    public let bytes: Int
    /// NaN and ±infinity among the values (0 for integer and boolean dtypes).
    public let nonFinite: Int
}

/// Every tensor of a checkpoint, with totals.
public struct CheckpointVerification: Sendable {
    public let source: String
    public let tensors: [TensorVerification]
    public let totalElements: Int
    public let totalBytes: Int
    public let totalNonFinite: Int
    /// Keys of the tensors with at least one non-finite value.
    public var tensorsWithNonFinite: [String] { tensors.filter { $0.nonFinite > 0 }.map(\.key) }
}

/// Why verification stopped (the readers' own errors pass through unchanged).
public enum CheckpointVerificationError: Error, CustomStringConvertible, Sendable {
    /// A tensor's bytes differ in length from what its dtype and shape need.
    case byteCountMismatch(source: String, key: String, expected: Int, found: Int)
    /// The sum of the tensors' sizes does not fit a 64-bit integer.
    case totalOverflow(source: String, key: String)

    public var description: String {
        switch self {
        case .byteCountMismatch(let source, let key, let expected, let found):
            return """
                \(source.escapedForTerminal): tensor '\(key.escapedForTerminal)': read \(found) bytes, its dtype and \
                shape need \(expected)
                """
        case .totalOverflow(let source, let key):
            return """
                \(source.escapedForTerminal): the total size passes 2^63 at tensor '\(key.escapedForTerminal)'
                """
        }
    }
}

public enum CheckpointVerifier {
    /// Opens `path` (any checkpoint ``openCheckpoint(path:)`` reads) and verifies every tensor; `visit` sees each
    /// one as it is done, in key order.
    public static func verify(
        path: URL, visit: (TensorVerification) -> Void = { _ in }
    ) throws -> CheckpointVerification {
        try verify(try openCheckpoint(path: path), visit: visit)
    }

    public static func verify(
        _ checkpoint: any CheckpointSource, visit: (TensorVerification) -> Void = { _ in }
    ) throws -> CheckpointVerification {
        var tensors: [TensorVerification] = []
        var elements = 0, bytes = 0, nonFinite = 0
        for key in checkpoint.keys {
            guard let (dtype, shape) = checkpoint.dtypeAndShape(key) else { continue }
            let data = try checkpoint.bytes(key)
            var count = 1, expected = dtype.size
            for dimension in shape {
                let (c, o1) = count.multipliedReportingOverflow(by: dimension)
                let (e, o2) = expected.multipliedReportingOverflow(by: dimension)
                guard !o1, !o2 else {
                    throw CheckpointVerificationError.totalOverflow(source: checkpoint.source, key: key)
                }
                count = c
                expected = e
            }
            guard data.count == expected else {
                throw CheckpointVerificationError.byteCountMismatch(
                    source: checkpoint.source, key: key, expected: expected, found: data.count)
            }
            let result = TensorVerification(
                key: key, dtype: dtype, shape: shape, bytes: data.count, nonFinite: countNonFinite(data, dtype: dtype))
            let (e, o1) = elements.addingReportingOverflow(count)
            let (b, o2) = bytes.addingReportingOverflow(data.count)
            guard !o1, !o2 else { throw CheckpointVerificationError.totalOverflow(source: checkpoint.source, key: key) }
            elements = e
            bytes = b
            nonFinite += result.nonFinite
            tensors.append(result)
            visit(result)
        }
        return CheckpointVerification(
            source: checkpoint.source, tensors: tensors, totalElements: elements, totalBytes: bytes,
            totalNonFinite: nonFinite)
    }

    /// NaN and infinities among little-endian values of `dtype`: an all-ones exponent field.
    public static func countNonFinite(_ data: Data, dtype: DType) -> Int {
        switch dtype {
        case .float16: return countAllOnesExponent(data, width: 2, exponentMask: 0x7C00)
        case .bfloat16: return countAllOnesExponent(data, width: 2, exponentMask: 0x7F80)
        case .float32: return countAllOnesExponent(data, width: 4, exponentMask: 0x7F80_0000)
        case .float64: return countAllOnesExponent(data, width: 8, exponentMask: 0x7FF0_0000_0000_0000)
        case .complex64: return countAllOnesExponent(data, width: 4, exponentMask: 0x7F80_0000)
        default: return 0
        }
    }

    private static func countAllOnesExponent(_ data: Data, width: Int, exponentMask: UInt64) -> Int {
        data.withUnsafeBytes { raw in
            func count<T: FixedWidthInteger>(_: T.Type) -> Int {
                let mask = T(truncatingIfNeeded: exponentMask)
                var found = 0
                for offset in stride(from: 0, to: raw.count - width + 1, by: width) {
                    let bits = T(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: T.self))
                    if bits & mask == mask { found += 1 }
                }
                return found
            }
            switch width {
            case 2: return count(UInt16.self)
            case 4: return count(UInt32.self)
            default: return count(UInt64.self)
            }
        }
    }
}
