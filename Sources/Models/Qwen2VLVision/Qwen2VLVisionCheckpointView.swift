import Checkpoints
import Engine
import Foundation

/// A checkpoint's tensors under `prefix`, seen with the prefix removed (a vision tower inside a whole VLM's files).
final class Qwen2VLVisionCheckpointView: CheckpointSource {
    private let base: any CheckpointSource
    private let prefix: String
    let keys: [String]

    init(_ base: any CheckpointSource, prefix: String) {
        self.base = base
        self.prefix = prefix
        keys = base.keys.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
    }

    /// The vision tower of `checkpoint` (read from `folder`), wherever the layouts transformers writes keep it:
    /// under `visual.` (transformers 4), `model.visual.` (transformers 5), or at the top (a tower saved alone).
    static func visionTower(in checkpoint: any CheckpointSource, folder: URL) throws -> Qwen2VLVisionCheckpointView {
        guard
            let prefix = ["visual.", "model.visual.", ""].first(where: {
                checkpoint.dtypeAndShape($0 + "patch_embed.proj.weight") != nil
            })
        else {
            throw ConfigFile.Error(
                file: folder.path, message: "no vision tower: no visual.patch_embed.proj.weight tensor")
        }
        return Qwen2VLVisionCheckpointView(checkpoint, prefix: prefix)
    }

    var source: String { base.source + (prefix.isEmpty ? "" : " (\(prefix)*)") }
    func dtypeAndShape(_ key: String) -> (dtype: DType, shape: [Int])? { base.dtypeAndShape(prefix + key) }
    func tensor(_ key: String) throws -> Tensor { try base.tensor(prefix + key) }
    func bytes(_ key: String) throws -> Data { try base.bytes(prefix + key) }
    func tensors() throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for key in keys { out[key] = try base.tensor(prefix + key) }
        return out
    }
}
