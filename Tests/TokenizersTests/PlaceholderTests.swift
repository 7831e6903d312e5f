import XCTest
final class TokenizerPlaceholderTests: XCTestCase { func testNothingYet() {} }
