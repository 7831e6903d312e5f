import Checkpoints
import Engine
import Foundation
import TestSupport
import XCTest

/// Failures inside the engine surface as Swift errors naming the operation and the operand shapes.
final class OpsErrorTests: XCTestCase {
    /// Runs `body` inside `Engine.catchingErrors` and returns the error it must throw.
    private func engineError(
        file: StaticString = #filePath, line: UInt = #line,
        _ body: () throws -> Void
    ) -> EngineError? {
        do {
            try Engine.catchingErrors(body)
            XCTFail("expected an EngineError", file: file, line: line)
        } catch let error as EngineError {
            return error
        } catch {
            XCTFail("expected an EngineError, got \(type(of: error)): \(error)", file: file, line: line)
        }
        return nil
    }

    private func assertMentions(
        _ error: EngineError?, _ fragments: [String],
        file: StaticString = #filePath, line: UInt = #line
    ) {
        guard let error else { return }
        let text = error.description
        for fragment in fragments {
            XCTAssertTrue(text.contains(fragment), "'\(fragment)' missing from: \(text)", file: file, line: line)
        }
    }

    func testMatmulShapeMismatchNamesTheOpAndBothShapes() {
        let error = engineError { _ = Tensor.ones([3, 4]).matmul(Tensor.ones([5, 6])) }
        XCTAssertEqual(error?.operation, "matmul")
        assertMentions(error, ["matmul", "[3, 4]", "[5, 6]"])
    }

    func testReshapeToAWrongSizeNamesTheOpAndBothShapes() {
        let error = engineError { _ = Tensor.ones([2, 3]).reshaped(4, 2) }
        assertMentions(error, ["reshape", "[4, 2]", "[2, 3]"])
    }

    func testBroadcastMismatchNamesTheOpAndBothShapes() {
        let error = engineError { _ = Tensor.ones([2, 3]) + Tensor.ones([4]) }
        assertMentions(error, ["add", "[2, 3]", "[4]"])
    }

    func testConvolutionChannelMismatchNamesTheOpAndBothShapes() {
        // Input has 3 channels, the weight expects 2.
        let error = engineError { _ = conv2d(Tensor.ones([1, 5, 5, 3]), Tensor.ones([4, 3, 3, 2])) }
        assertMentions(error, ["conv2d", "[1, 5, 5, 3]", "[4, 3, 3, 2]"])
    }

    func testTheFirstFailureIsReportedAndLaterOpsDoNotCrash() {
        let error = engineError {
            let bad = Tensor.ones([3, 4]).matmul(Tensor.ones([5, 6]))
            // Work on the placeholder result continues without stopping the program.
            _ = (bad + 1).reshaped(7, 7)
        }
        XCTAssertEqual(error?.operation, "matmul")
    }

    func testScopeEndsCleanAndNestedScopesKeepTheirOwnErrors() throws {
        // A successful scope returns its value.
        let sum = try Engine.catchingErrors { (Tensor.ones([2]) + 1).sum().item(Float.self) }
        XCTAssertEqual(sum, 4)
        // An inner scope's failure does not leak into the outer one.
        try Engine.catchingErrors {
            XCTAssertThrowsError(try Engine.catchingErrors { _ = Tensor.ones([2]).reshaped(3) })
            XCTAssertEqual((Tensor.ones([2]) * 2).toArray(Float.self), [2, 2])
        }
    }

    func testMissingSafetensorsFileNamesTheFile() {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "no-such-\(UUID().uuidString).safetensors")
        XCTAssertThrowsError(try SafeTensors.load(url)) { error in
            XCTAssertTrue("\(error)".contains(url.lastPathComponent), "file not named in: \(error)")
        }
    }

    func testCorruptSafetensorsFileNamesTheFile() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "corrupt-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        // A header length far past the end of the file.
        var bytes = [UInt8](repeating: 0, count: 16)
        bytes[0] = 0xFF; bytes[1] = 0xFF
        try Data(bytes).write(to: url)
        XCTAssertThrowsError(try SafeTensors.load(url)) { error in
            XCTAssertTrue("\(error)".contains(url.lastPathComponent), "file not named in: \(error)")
        }
    }
}
