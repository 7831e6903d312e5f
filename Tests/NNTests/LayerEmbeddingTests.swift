import Engine
import NN
import XCTest

/// Token ids outside the table are refused through the engine's error scope instead of reading past the table.
final class LayerEmbeddingTests: XCTestCase {
    private func refusal(_ indices: Tensor, rows: Int = 5) -> String? {
        let table = Embedding(rows, 3)
        do {
            let result = try Engine.catchingErrors { () -> Tensor in
                let out = table(indices)
                XCTAssertEqual(out.shape, indices.shape + [3], "the placeholder keeps the shape")
                XCTAssertEqual(out.sum().item(Float.self), 0)
                return out
            }
            XCTFail("expected a refusal, got \(result.shape)")
        } catch {
            guard case EngineError.invalidOperand(let operation, _, _)? = error as? EngineError else {
                XCTFail("expected EngineError.invalidOperand, got \(error)")
                return nil
            }
            XCTAssertEqual(operation, "embedding")
            return "\(error)"
        }
        return nil
    }

    func testAnIdJustPastTheTableIsRefused() {
        let message = refusal(Tensor([Int32(0), 5], shape: [1, 2]))
        XCTAssertEqual(
            message,
            "embedding: index 5 is outside the table's 5 rows (expected 0..<5) "
                + "(operand shapes [1, 2], [5, 3])")
    }

    func testAHugeIdIsRefused() {
        XCTAssertTrue(refusal(Tensor([Int32(100_000_000)], shape: [1]))?.contains("index 100000000") ?? false)
    }

    func testANegativeIdIsRefused() {
        XCTAssertTrue(refusal(Tensor([Int32(-1), 2], shape: [2]))?.contains("index -1") ?? false)
    }

    func testFloatIndicesAreRefused() {
        XCTAssertTrue(refusal(Tensor([Float(1)], shape: [1]))?.contains("must be integers") ?? false)
    }

    func testIdsInsideTheTableAreLookedUp() throws {
        let table = Embedding(weight: Tensor((0..<6).map(Float.init), shape: [3, 2]))
        let rows = try Engine.catchingErrors { table(Tensor([Int32(2), 0], shape: [2])).toArray(Float.self) }
        XCTAssertEqual(rows, [4, 5, 0, 1])
    }
}
