import XCTest
final class ImagingPlaceholderTests: XCTestCase { func testNothingYet() {} }
