import Checkpoints
import Engine
import Foundation
import Models

/// The scratch folder of one fuzzing process: inputs are written here for the parsers that read paths, beside the
/// valid files some targets need (shards for an index, an embedding cache's tensors). Removed at exit.
final class FuzzScratch: @unchecked Sendable {
    static let shared = FuzzScratch()

    let root: URL
    private var cacheReady = false
    private var shardsReady = false

    private init() {
        root = FileManager.default.temporaryDirectory.appendingPathComponent(
            "dancegrpo-fuzz-\(ProcessInfo.processInfo.processIdentifier)", isDirectory: true)
        try? FileManager.default.removeItem(at: root)
        atexit {
            try? FileManager.default.removeItem(
                at: FileManager.default.temporaryDirectory.appendingPathComponent(
                    "dancegrpo-fuzz-\(ProcessInfo.processInfo.processIdentifier)"))
        }
    }

    /// Writes `bytes` to `name` under the scratch folder (folders created) and returns its URL.
    @discardableResult
    func write(_ bytes: [UInt8], as name: String) throws -> URL {
        let url = root.appendingPathComponent(name)
        if name.hasPrefix("sharded/") { try shards() }
        try write(bytes, to: url)
        return url
    }

    func write(_ bytes: [UInt8], to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
    }

    /// Two valid shards, `model-00001-of-00002.safetensors` (`a`, `b`) and `model-00002-of-00002.safetensors` (`c`),
    /// for the index target.
    private func shards() throws {
        guard !shardsReady else { return }
        let folder = root.appendingPathComponent("sharded")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try SafeTensors.save(
            ["a": Tensor([1, 2, 3] as [Float], shape: [3]), "b": Tensor([4] as [Float], shape: [1])],
            to: folder.appendingPathComponent("model-00001-of-00002.safetensors"))
        try SafeTensors.save(
            ["c": Tensor([5, 6] as [Float], shape: [2])],
            to: folder.appendingPathComponent("model-00002-of-00002.safetensors"))
        shardsReady = true
    }

    /// An embedding cache folder whose entry `0.safetensors` is complete in the three subfolders.
    func embeddingCache() throws -> URL {
        let folder = root.appendingPathComponent("cache")
        guard !cacheReady else { return folder }
        let tensors = [
            "prompt_embed": Tensor([Float](repeating: 0.5, count: 8), shape: [2, 4]),
            "pooled_prompt_embeds": Tensor([Float](repeating: 0.25, count: 3), shape: [3]),
            "text_ids": Tensor([Float](repeating: 0, count: 6), shape: [2, 3])
        ]
        for (name, tensor) in tensors {
            let sub = folder.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
            try SafeTensors.save([name: tensor], to: sub.appendingPathComponent("0.safetensors"))
        }
        cacheReady = true
        return folder
    }
}
