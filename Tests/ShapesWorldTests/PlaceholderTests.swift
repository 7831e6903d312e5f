import XCTest
final class ShapesWorldPlaceholderTests: XCTestCase { func testNothingYet() {} }
