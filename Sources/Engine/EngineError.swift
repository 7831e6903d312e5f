import Foundation
internal import CMLXShim

/// A failure reported by the engine: the operation, the message from MLX, and the operands' shapes.
public struct EngineError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let message: String
    public var description: String { "\(operation): \(message)" }
}

/// How engine failures surface. Ops on tensors do not throw (they compose like arithmetic), so by default a failure
/// — a shape mismatch, say — stops the program with a message naming the operation and the shapes. Code that wants
/// a Swift error instead wraps the work in ``Engine/catchingErrors(_:)``.
public enum Engine {
    private static let scopeKey = "dancegrpo.engine.errorScope"

    final class ErrorScope {
        var first: EngineError?
    }

    /// Runs `body`; the first engine failure inside it is thrown as an ``EngineError`` when `body` returns.
    /// Ops that fail inside the scope return a placeholder scalar, so later results are meaningless until it throws.
    public static func catchingErrors<R>(_ body: () throws -> R) throws -> R {
        let threadDictionary = Thread.current.threadDictionary
        let outer = threadDictionary[scopeKey]
        let scope = ErrorScope()
        threadDictionary[scopeKey] = scope
        defer { threadDictionary[scopeKey] = outer }
        let result = try body()
        if let error = scope.first { throw error }
        return result
    }

    static func report(_ error: EngineError) {
        if let scope = Thread.current.threadDictionary[scopeKey] as? ErrorScope {
            if scope.first == nil { scope.first = error }
            return
        }
        fatalError("DanceGRPO engine error in \(error)")
    }

    /// Version string of the linked MLX library.
    public static var mlxVersion: String { String(cString: dg.mlxVersion()) }

    /// Shared object that provides `cblas_sgemm` in this process (OpenBLAS when the build is right).
    public static var sgemmProvider: String { String(cString: dg.sgemmProvider()) }

    /// Whether matmul runs on an optimized BLAS rather than the reference BLAS bundled with the wheel.
    public static var usesOptimizedBLAS: Bool {
        sgemmProvider.contains("openblas") || sgemmProvider.contains("Accelerate")
    }

    /// Turns MLX's `compile` on or off globally (off helps when debugging).
    public static func setCompileEnabled(_ enabled: Bool) { dg.setCompileEnabled(enabled) }
}

/// Reads the shim's error slot after a call; returns the result or reports the failure with the operands' shapes.
@inline(__always)
func checked(_ operation: @autoclosure () -> String, _ operands: [Tensor] = [], _ raw: mlx.core.array) -> Tensor {
    if let message = dg.lastError() {
        let shapes = operands.map { "\($0.shape)" }.joined(separator: ", ")
        let text = String(cString: message) + (operands.isEmpty ? "" : " (operand shapes \(shapes))")
        Engine.report(EngineError(operation: operation(), message: text))
    }
    return Tensor(raw)
}

/// As ``checked(_:_:_:)`` for calls that return a flag or a vector.
@inline(__always)
func checkStatus(_ operation: @autoclosure () -> String, _ operands: [Tensor] = []) -> Bool {
    guard let message = dg.lastError() else { return true }
    let shapes = operands.map { "\($0.shape)" }.joined(separator: ", ")
    let text = String(cString: message) + (operands.isEmpty ? "" : " (operand shapes \(shapes))")
    Engine.report(EngineError(operation: operation(), message: text))
    return false
}
