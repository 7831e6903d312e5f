import Engine
import Foundation
import XCTest

/// Engine failures are thrown where a boundary checks (``Engine/checkErrors()``), never fatal inside a scope: the
/// thread's own scope, or the process-wide one a command line installs.
final class EngineErrorScopeTests: XCTestCase {
    func testAShapeMismatchIsThrownByTheCheckInsideTheScope() {
        XCTAssertThrowsError(
            try Engine.catchingErrors {
                _ = Tensor.ones([2, 3]).matmul(Tensor.ones([4, 5]))
                try Engine.checkErrors()
                XCTFail("checkErrors returned after a failed matmul")
            }
        ) { error in
            guard case EngineError.operationFailed(let operation, _, let shapes)? = error as? EngineError else {
                return XCTFail("expected EngineError.operationFailed, got \(error)")
            }
            XCTAssertEqual(operation, "matmul")
            XCTAssertEqual(shapes, [[2, 3], [4, 5]])
        }
    }

    func testACheckAfterTheErrorWasThrownFindsNothing() throws {
        try Engine.catchingErrors {
            _ = Tensor.ones([2]).reshaped(3)
            XCTAssertThrowsError(try Engine.checkErrors())
            try Engine.checkErrors()  // delivered once
            XCTAssertEqual((Tensor.ones([2]) + 1).toArray(Float.self), [2, 2])
        }
    }

    func testOnlyTheFirstFailureIsKept() {
        XCTAssertThrowsError(
            try Engine.catchingErrors {
                _ = Tensor.ones([2]).reshaped(3)
                _ = Tensor.ones([3, 4]).matmul(Tensor.ones([5, 6]))
            }
        ) { error in
            XCTAssertEqual((error as? EngineError)?.operation, "reshape([3])", "\(error)")
        }
    }

    func testAnInnerScopeKeepsItsFailureFromTheOuterScope() throws {
        let outer = try Engine.catchingErrors { () -> Float in
            XCTAssertThrowsError(
                try Engine.catchingErrors { _ = Tensor.ones([2, 3]) + Tensor.ones([4]) }
            ) { error in XCTAssertEqual((error as? EngineError)?.operation, "add", "\(error)") }
            try Engine.checkErrors()
            return (Tensor.ones([3]) * 2).sum().item(Float.self)
        }
        XCTAssertEqual(outer, 6)
    }

    func testAnOuterFailureIsThrownAfterACleanInnerScope() {
        XCTAssertThrowsError(
            try Engine.catchingErrors {
                _ = Tensor.ones([2, 3]).matmul(Tensor.ones([5, 6]))
                try Engine.catchingErrors { _ = Tensor.ones([2]) + 1 }
            }
        ) { error in XCTAssertEqual((error as? EngineError)?.operation, "matmul", "\(error)") }
    }

    func testEvaluateThrowsAFailureOfItsOwnGraph() {
        XCTAssertThrowsError(
            try Engine.catchingErrors {
                let bad = Tensor.ones([2, 3]).reshaped(5)
                try Engine.evaluate([bad + 1])
                XCTFail("evaluate returned after a failed reshape")
            }
        ) { error in XCTAssertEqual((error as? EngineError)?.operation, "reshape([5])", "\(error)") }
    }

    /// The process-wide scope collects failures from threads that have no scope of their own; a check on any thread
    /// without one throws it. (Installed for the rest of this test process: harmless, it is empty afterwards.)
    func testTheProcessScopeCollectsFailuresFromAnyThread() throws {
        Engine.installProcessErrorScope()
        try Engine.checkErrors()  // nothing pending from other tests
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            _ = Tensor.ones([3, 4]).matmul(Tensor.ones([5, 6]))
            done.signal()
        }
        done.wait()
        XCTAssertThrowsError(try Engine.checkErrors()) { error in
            XCTAssertTrue("\(error)".contains("[3, 4], [5, 6]"), "\(error)")
        }
        try Engine.checkErrors()
    }

    func testDescriptionNamesTheOperationMessageAndShapes() {
        let error = EngineError.operationFailed(operation: "matmul", message: "bad", operandShapes: [[1, 2], [3]])
        XCTAssertEqual(error.description, "matmul: bad (operand shapes [1, 2], [3])")
        XCTAssertEqual(
            EngineError.invalidOperand(operation: "embedding", message: "index 9", operandShapes: []).description,
            "embedding: index 9")
    }
}
