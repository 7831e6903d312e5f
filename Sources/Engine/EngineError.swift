import Foundation
internal import CMLXShim

/// A failure reported by the engine. Ops on tensors do not throw, so a failure is recorded by the innermost error
/// scope (see ``Engine/catchingErrors(_:)`` and ``Engine/installProcessErrorScope()``) and thrown at the next API
/// boundary that checks (``Engine/checkErrors()``).
public enum EngineError: Error, CustomStringConvertible, Sendable, Equatable {
    /// MLX refused an operation: its name, MLX's message and the operands' shapes (empty when it has none).
    case operationFailed(operation: String, message: String, operandShapes: [[Int]])
    /// A layer refused its operands before they reached MLX, where they would read out of bounds (a token id past
    /// the embedding table, a sequence longer than the position table).
    case invalidOperand(operation: String, message: String, operandShapes: [[Int]])

    public var operation: String {
        switch self {
        case .operationFailed(let operation, _, _), .invalidOperand(let operation, _, _): return operation
        }
    }

    /// MLX's message, followed by the operands' shapes when there are any.
    public var message: String {
        switch self {
        case .operationFailed(_, let message, let shapes), .invalidOperand(_, let message, let shapes):
            guard !shapes.isEmpty else { return message }
            return message + " (operand shapes " + shapes.map { "\($0)" }.joined(separator: ", ") + ")"
        }
    }

    public var description: String { "\(operation): \(message)" }
}

/// Where engine failures go. Ops do not throw (they compose like arithmetic); a failed op returns a placeholder and
/// its error is recorded by the innermost scope: the calling thread's ``catchingErrors(_:)``, else the process-wide
/// scope once ``installProcessErrorScope()`` ran. Only a failure outside every scope stops the program, as a
/// programming error. Placeholders keep later code from crashing until a boundary calls ``checkErrors()``.
public enum Engine {
    private static let scopeKey = "dancegrpo.engine.errorScope"
    private static let processLock = NSLock()
    nonisolated(unsafe) private static var processScope: ErrorScope?

    /// Holds the first failure of a scope until it is thrown. Locked: the process-wide scope collects from any
    /// thread.
    final class ErrorScope: @unchecked Sendable {
        private let lock = NSLock()
        private var first: EngineError?

        func record(_ error: EngineError) {
            lock.lock()
            defer { lock.unlock() }
            if first == nil { first = error }
        }

        /// The pending failure, which is then considered delivered.
        func take() -> EngineError? {
            lock.lock()
            defer { lock.unlock() }
            defer { first = nil }
            return first
        }
    }

    private static var threadScope: ErrorScope? { Thread.current.threadDictionary[scopeKey] as? ErrorScope }

    /// Runs `body` with a scope of its own on this thread; the first engine failure inside it is thrown as an
    /// ``EngineError`` when `body` returns (or earlier, by a ``checkErrors()`` inside). Failures inside do not reach
    /// an outer scope.
    public static func catchingErrors<R>(_ body: () throws -> R) throws -> R {
        let threadDictionary = Thread.current.threadDictionary
        let outer = threadDictionary[scopeKey]
        let scope = ErrorScope()
        threadDictionary[scopeKey] = scope
        defer { threadDictionary[scopeKey] = outer }
        let result = try body()
        if let error = scope.take() { throw error }
        return result
    }

    /// Makes failures outside every thread's own scope recorded for the whole process instead of fatal, until the
    /// process ends. A command line calls it once at its entry; its boundaries then throw them. A failure no boundary
    /// checked before the process exits is written to standard error and the exit status becomes 1, so a command
    /// never ends with success on placeholder results. Idempotent.
    public static func installProcessErrorScope() {
        processLock.lock()
        defer { processLock.unlock() }
        guard processScope == nil else { return }
        processScope = ErrorScope()
        atexit {
            guard let error = Engine.processScopeIfInstalled?.take() else { return }
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            _exit(1)
        }
    }

    /// Throws the first engine failure recorded since the last check by the innermost scope (this thread's, else
    /// the process's). Cheap enough for every iteration of a loop; boundaries (model loading, sampling, scoring,
    /// training steps) call it so that a failure surfaces as an error where the caller can handle it.
    public static func checkErrors() throws {
        if let scope = threadScope {
            if let error = scope.take() { throw error }
            return
        }
        processLock.lock()
        let scope = processScope
        processLock.unlock()
        if let error = scope?.take() { throw error }
    }

    /// Computes `tensors` and throws any engine failure so far (their own included).
    public static func evaluate(_ tensors: [Tensor]) throws {
        eval(tensors)
        try checkErrors()
    }

    /// Records a refusal the way a failed op is recorded: layers call it for operands that would make MLX read out
    /// of bounds, then return a placeholder of the right shape.
    public static func refuse(_ operation: String, _ message: String, operands: [Tensor] = []) {
        report(.invalidOperand(operation: operation, message: message, operandShapes: operands.map(\.shape)))
    }

    static func report(_ error: EngineError) {
        if let scope = threadScope ?? processScopeIfInstalled {
            scope.record(error)
            return
        }
        fatalError("DanceGRPO engine error in \(error)")
    }

    private static var processScopeIfInstalled: ErrorScope? {
        processLock.lock()
        defer { processLock.unlock() }
        return processScope
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
        Engine.report(
            .operationFailed(
                operation: operation(), message: String(cString: message), operandShapes: operands.map(\.shape)))
    }
    return Tensor(raw)
}

/// As ``checked(_:_:_:)`` for calls that return a flag or a vector.
@inline(__always)
func checkStatus(_ operation: @autoclosure () -> String, _ operands: [Tensor] = []) -> Bool {
    guard let message = dg.lastError() else { return true }
    Engine.report(
        .operationFailed(
            operation: operation(), message: String(cString: message), operandShapes: operands.map(\.shape)))
    return false
}
