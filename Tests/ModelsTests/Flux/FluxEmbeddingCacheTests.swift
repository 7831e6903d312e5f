import Engine
import Foundation
import Models
import TestSupport
import XCTest

final class FluxEmbeddingCacheTests: XCTestCase {
    func testWriteResumeAndLoadBatch() throws {
        let folder = try temporaryDirectory(self)
        let cache = FluxEmbeddingCache(folder: folder)
        let embeddings = FluxPromptEmbeddings(
            promptEmbeds: Random.normal([2, 6, 8], key: RandomKey(seed: 1)),
            pooledPromptEmbeds: Random.normal([2, 4], key: RandomKey(seed: 2)),
            textIds: FluxLatents.textIds(length: 6))
        XCTAssertFalse(cache.contains(7))
        var entries = [
            try cache.write(index: 7, embeddings: embeddings, row: 0, dtype: .float32),
            try cache.write(index: 9, embeddings: embeddings, row: 1, dtype: .bfloat16)
        ]
        entries[0].caption = "a red fox"
        entries[1].caption = "café 東京 🦊"
        XCTAssertTrue(cache.contains(7) && cache.contains(9))
        try cache.writeManifest(entries)
        XCTAssertEqual(try cache.readManifest(), entries)
        // The reference's key names, as its JSON datasets read them.
        let json = try String(contentsOf: cache.manifestURL, encoding: .utf8)
        XCTAssert(
            json.contains("\"prompt_embed_path\"") && json.contains("\"pooled_prompt_embeds_path\"")
                && json.contains("\"text_ids\""))

        let batch = try cache.load(entries)
        XCTAssertEqual(batch.promptEmbeds.shape, [2, 6, 8])
        XCTAssertEqual(batch.promptEmbeds[0].toArray(Float.self), embeddings.promptEmbeds[0].toArray(Float.self))
        assertClose(batch.promptEmbeds[1], embeddings.promptEmbeds[1], tolerance: 1e-2)  // stored as bf16
        XCTAssertEqual(batch.textIds.shape, [6, 3])
    }

    func testMissingManifestSaysWhatToRun() throws {
        let cache = FluxEmbeddingCache(folder: try temporaryDirectory(self))
        XCTAssertThrowsError(try cache.readManifest()) { XCTAssert("\($0)".contains("dancegrpo preprocess"), "\($0)") }
    }
}
