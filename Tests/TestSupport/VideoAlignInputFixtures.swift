import Foundation
import XCTest

/// The tiny Qwen2-VL processor folder of tools/goldens/videoalign_inputs.py in one transformers layout ("v4":
/// `preprocessor_config.json` with the tokenizer's `vocab.json` + `merges.txt`; "v5": `processor_config.json` with
/// `tokenizer.json`), assembled in a temporary folder from the committed processor files and the tokenizer files they
/// were made with (Fixtures/tokenizers/qwen2/legacy and json).
public func videoAlignProcessorFolder(_ layout: String, _ test: XCTestCase) throws -> URL {
    let folder = try temporaryDirectory(test)
    let tokenizer = Fixture.url("tokenizers/qwen2/\(layout == "v4" ? "legacy" : "json")")
    for source in [tokenizer, Fixture.url("videoalign_processor_\(layout)")] {
        for name in try FileManager.default.contentsOfDirectory(atPath: source.path) {
            try FileManager.default.copyItem(
                at: source.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
    }
    return folder
}
