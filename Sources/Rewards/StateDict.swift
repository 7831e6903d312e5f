import Checkpoints
import Engine
import Foundation
import NN

/// The tensors of one checkpoint file by key, read lazily, with the key clean-up every reward checkpoint needs.
///
/// Formats: safetensors (a file, or a folder of shards) and PyTorch pickles (`.pt`, `.bin`, `.pth`, read by the
/// project's restricted unpickler, which never runs code from the file; a nested `{'state_dict': …}` is unwrapped).
/// Keys are normalised as `torch.load(...)` + DanceGRPO's `load_state_dict` calls see them: a leading `state_dict.`
/// (the nested `{'state_dict': …}` form, flattened) and `module.` (saved from a DistributedDataParallel wrapper) are
/// dropped.
public struct StateDict {
    public let file: URL
    private let checkpoint: any CheckpointSource
    /// Normalised key → key in the file.
    private let sourceKeys: [String: String]

    public var keys: [String] { sourceKeys.keys.sorted() }
    public var source: String { file.lastPathComponent }

    /// - renaming: applied to each key after the prefixes are dropped (a model's own layout rules).
    public init(contentsOf file: URL, renaming: (String) -> String = { $0 }) throws {
        let path = file.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw RewardError.missingFile(path: path, expected: "a checkpoint file (.safetensors, .pt or .bin)")
        }
        self.file = file
        checkpoint = try openCheckpoint(path: file)
        var map: [String: String] = [:]
        for key in checkpoint.keys { map[renaming(Self.normalizedKey(key))] = key }
        sourceKeys = map
    }

    /// Drops a leading `state_dict.` and then `module.`.
    public static func normalizedKey(_ key: String) -> String {
        var key = Substring(key)
        for prefix in ["state_dict.", "module."] where key.hasPrefix(prefix) { key = key.dropFirst(prefix.count) }
        return String(key)
    }

    public func contains(_ key: String) -> Bool { sourceKeys[key] != nil }

    public func shape(_ key: String) -> [Int]? { sourceKeys[key].flatMap { checkpoint.dtypeAndShape($0)?.shape } }

    public func tensor(_ key: String) throws -> Tensor {
        guard let source = sourceKeys[key] else {
            throw RewardError.checkpointMismatch(file: file.path, expected: "key \(key)", found: "no such key")
        }
        return try checkpoint.tensor(source)
    }

    /// Every tensor whose key passes `including`, by normalised key.
    public func tensors(where including: (String) -> Bool = { _ in true }) throws -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        for key in keys where including(key) { result[key] = try tensor(key) }
        return result
    }
}

extension Module {
    /// Strict load from several state dicts: a key is taken from the first dict that has it (an HPS file over the
    /// open_clip weights it was fine-tuned from); every model key must be found, keys of `overrides` that the model
    /// does not have are an error, and shapes must match. Only the tensors used are read.
    func load(from dicts: [StateDict], ignoring: (String) -> Bool = { _ in false }, dtype: DType? = nil) throws {
        var tensors: [String: Tensor] = [:]
        let modelKeys = Set(namedSlots().map(\.key))
        for dict in dicts {
            for key in dict.keys where tensors[key] == nil && !ignoring(key) {
                if modelKeys.contains(key) || dict.file == dicts.first?.file { tensors[key] = try dict.tensor(key) }
            }
        }
        try load(tensors, strict: true, dtype: dtype, source: dicts.map(\.source).joined(separator: " + "))
    }
}
