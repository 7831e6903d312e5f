import XCTest
import Engine
final class SmokeTests: XCTestCase { func testAdd() { XCTAssertEqual((Tensor([1, 2] as [Float]) + 1).toArray(Float.self), [2, 3]) } }
