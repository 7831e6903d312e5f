import Foundation
import TestSupport
import Tokenizers
import XCTest

/// `addingSpecialTokens`, as VideoAlign adds its reward tokens with transformers' `add_special_tokens` (the ids
/// transformers gives them are checked in VideoAlignInputTests against the real processor).
final class Qwen2TokenizerSpecialTokensTests: XCTestCase {
    func testNewTokensTakeTheNextIdsAndAreMatchedInText() throws {
        let base = try Qwen2Tokenizer(directory: Fixture.url("tokenizers/qwen2/legacy"))
        let last = base.tokenIDRange.upperBound
        let tokenizer = base.addingSpecialTokens(["<|A|>", "<|im_end|>", "<|B|>", "<|A|>"])
        XCTAssertEqual(tokenizer.id(of: "<|A|>"), last + 1)
        XCTAssertEqual(tokenizer.id(of: "<|B|>"), last + 2)
        XCTAssertEqual(tokenizer.id(of: "<|im_end|>"), base.id(of: "<|im_end|>"))
        XCTAssertEqual(tokenizer.addedTokens.count, base.addedTokens.count + 2)
        let plain = base.tokenize("ab")
        XCTAssertEqual(tokenizer.tokenize("ab<|B|>ab<|A|>"), plain + [last + 2] + plain + [last + 1])
        XCTAssertNotEqual(base.tokenize("<|A|>"), [last + 1])
    }
}
