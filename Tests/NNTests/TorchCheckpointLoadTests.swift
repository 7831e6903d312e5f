import Engine
import Foundation
import NN
import TestSupport
import XCTest

/// `Module.load(contentsOf:)` takes PyTorch files as it takes safetensors (goldens:
/// tools/goldens/torch_checkpoints.py).
final class TorchCheckpointLoadTests: XCTestCase {
    func testLinearLoadsFromATorchSaveFile() throws {
        let expected = try Fixture.load("torch_checkpoints/expected.safetensors")
        let linear = Linear(4, 3, key: RandomKey(seed: 3))
        try linear.load(contentsOf: Fixture.url("torch_checkpoints/linear.bin"))
        XCTAssertEqual(linear.weight.bytes(), expected["linear/weight"]!.bytes())
        XCTAssertEqual(linear.bias!.bytes(), expected["linear/bias"]!.bytes())
    }

    func testMismatchNamesTheTorchFile() throws {
        let linear = Linear(4, 5)
        XCTAssertThrowsError(try linear.load(contentsOf: Fixture.url("torch_checkpoints/linear.bin"))) { error in
            XCTAssert("\(error)".contains("linear.bin"), "\(error)")
            XCTAssert("\(error)".contains("weight: expected [5, 4], found [3, 4]"), "\(error)")
        }
    }
}
