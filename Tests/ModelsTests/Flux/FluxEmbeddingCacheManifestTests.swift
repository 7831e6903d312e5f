import Checkpoints
import Engine
import Foundation
import Models
import TestSupport
import XCTest

/// The embedding cache's manifest is a file a user may have downloaded: its paths stay inside the cache's folders
/// and a malformed manifest is named as such.
final class FluxEmbeddingCacheManifestTests: XCTestCase {
    private func cache(manifest: String) throws -> FluxEmbeddingCache {
        let folder = try temporaryDirectory(self)
        try Data(manifest.utf8).write(to: folder.appendingPathComponent(FluxEmbeddingCache.manifestName))
        return FluxEmbeddingCache(folder: folder)
    }

    private func entry(_ path: String, field: String = "prompt_embed_path") -> String {
        var fields = [
            "prompt_embed_path": "0.safetensors", "pooled_prompt_embeds_path": "0.safetensors",
            "text_ids": "0.safetensors", "caption": ""
        ]
        fields[field] = path
        let data = try! JSONSerialization.data(withJSONObject: [fields])
        return String(decoding: data, as: UTF8.self)
    }

    func testPathsLeavingTheCacheAreRefused() throws {
        for (path, field) in [
            ("../../etc/passwd", "prompt_embed_path"), ("/etc/passwd", "pooled_prompt_embeds_path"),
            ("a/../../x.safetensors", "text_ids")
        ] {
            let cache = try cache(manifest: entry(path, field: field))
            XCTAssertThrowsError(try cache.readManifest()) { error in
                let text = "\(error)"
                XCTAssert(text.contains("videos2caption.json: entry 0: \(field) '\(path)' is outside the cache"), text)
            }
        }
    }

    func testSymbolicLinkOutOfTheCacheIsRefused() throws {
        let cache = try cache(manifest: entry("link.safetensors"))
        let sub = cache.folder.appendingPathComponent("prompt_embed")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            at: sub.appendingPathComponent("link.safetensors"),
            withDestinationURL: URL(fileURLWithPath: "/etc/hostname"))
        XCTAssertThrowsError(try cache.readManifest()) { error in
            XCTAssert(
                "\(error)".contains("prompt_embed_path 'link.safetensors' is outside the cache's prompt_embed/"),
                "\(error)")
        }
    }

    func testMalformedManifestsNameTheProblem() throws {
        let cases = [
            (#"{"prompt_embed_path": "0.safetensors"}"#, "malformed embedding manifest: the top level is not a"),
            (#"[{"prompt_embed_path": "0.safetensors"}]"#, "entry[0] has no 'pooled_prompt_embeds_path'"),
            (
                #"[{"prompt_embed_path": 3, "pooled_prompt_embeds_path": "", "text_ids": "", "caption": ""}]"#,
                "entry[0].prompt_embed_path is not a String"
            ),
            ("[{\u{1B}[2J", "not valid JSON")
        ]
        for (manifest, expected) in cases {
            XCTAssertThrowsError(try cache(manifest: manifest).readManifest()) { error in
                XCTAssert("\(error)".contains(expected), "'\(expected)' missing from: \(error)")
            }
        }
    }

    func testLoadingNoEntriesIsAnError() throws {
        let cache = try cache(manifest: "[]")
        XCTAssertEqual(try cache.readManifest(), [])
        XCTAssertThrowsError(try cache.load([])) { error in
            XCTAssert("\(error)".contains("no embedding cache entries to load"), "\(error)")
        }
    }
}
