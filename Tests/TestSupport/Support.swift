import Checkpoints
import Engine
import Foundation
import XCTest

/// The committed golden files under Tests/TestSupport/Fixtures.
public enum Fixture {
    public static func url(_ name: String) -> URL {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures").appendingPathComponent(name)
    }

    public static func load(_ name: String) throws -> [String: Tensor] {
        try SafeTensors.load(url(name))
    }
}

/// The package root, where the committed `assets/` are (this file is Tests/TestSupport/Support.swift).
public let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// Largest element-wise |a − b| (float32).
public func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Float {
    let d = (a.asType(.float32) - b.asType(.float32)).abs()
    return d.count == 0 ? 0 : d.max().item(Float.self)
}

/// Same shape, and max |actual − expected| ≤ tolerance · max(1, max|expected|): the project's parity rule (errors
/// relative to the output's scale, so large activations are not held to an absolute bound they cannot meet in fp32).
public func assertClose(
    _ actual: Tensor, _ expected: Tensor, tolerance: Float = 1e-4, _ message: String = "",
    file: StaticString = #filePath, line: UInt = #line
) {
    guard actual.shape == expected.shape else {
        XCTFail("shape \(actual.shape) ≠ expected \(expected.shape) \(message)", file: file, line: line)
        return
    }
    let scale = max(1, expected.count == 0 ? 0 : expected.asType(.float32).abs().max().item(Float.self))
    let error = maxAbsDifference(actual, expected)
    XCTAssert(
        error <= tolerance * scale, "max abs error \(error) > \(tolerance) × scale \(scale) \(message)", file: file,
        line: line)
}

/// A fresh temporary folder, removed when the test ends.
public func temporaryDirectory(_ test: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("dancegrpo-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

/// Element-wise comparison of two float arrays within `accuracy` (XCTest has this for scalars only).
public func XCTAssertEqual(
    _ actual: [Float], _ expected: [Float], accuracy: Float, _ message: String = "",
    file: StaticString = #filePath, line: UInt = #line
) {
    guard actual.count == expected.count else {
        XCTFail("\(actual.count) elements ≠ expected \(expected.count) \(message)", file: file, line: line)
        return
    }
    for (i, (a, e)) in zip(actual, expected).enumerated() where !(abs(a - e) <= accuracy) {
        XCTFail("element \(i): \(a) ≠ \(e) ± \(accuracy) \(message)", file: file, line: line)
        return
    }
}
