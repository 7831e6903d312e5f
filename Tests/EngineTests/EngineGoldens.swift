import Engine
import Foundation
import TestSupport
import XCTest

/// The op references written by tools/goldens/engine_ops.py (PyTorch, float64 then rounded to float32), read once
/// per test process: the file holds a few hundred small tensors and every op test reads from it.
enum EngineGoldens {
    static let fileName = "engine_ops.safetensors"

    private static let loaded: Result<[String: Tensor], any Error> = Result { try Fixture.load(fileName) }

    struct MissingKey: Error, CustomStringConvertible {
        let key: String
        var description: String {
            "\(EngineGoldens.fileName) has no tensor '\(key)'; rerun tools/goldens/engine_ops.py"
        }
    }

    static func tensor(_ key: String) throws -> Tensor {
        guard let t = try loaded.get()[key] else { throw MissingKey(key: key) }
        return t
    }
}

/// A golden tensor by key (`<family>.<op>.<role>`).
func golden(_ key: String) throws -> Tensor { try EngineGoldens.tensor(key) }

/// Asserts that two tensors hold exactly the same values (integer, boolean or bit-exact float results).
func assertEqualValues(
    _ actual: Tensor, _ expected: Tensor, _ message: String = "",
    file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertEqual(actual.shape, expected.shape, "shape \(message)", file: file, line: line)
    guard actual.shape == expected.shape else { return }
    XCTAssertEqual(actual.toArray(Double.self), expected.toArray(Double.self), message, file: file, line: line)
}
