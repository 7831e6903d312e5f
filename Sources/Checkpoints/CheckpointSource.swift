import Engine
import Foundation

/// Anything tensors are loaded from by key, one at a time: safetensors files and folders (``SafeTensorsCheckpoint``)
/// and PyTorch `torch.save` files (``TorchCheckpointFile``). ``openCheckpoint(path:)`` picks the reader from the
/// file's content.
public protocol CheckpointSource: AnyObject {
    /// A name for messages: the file or folder.
    var source: String { get }
    /// Every tensor key, sorted.
    var keys: [String] { get }
    /// The element type and shape of `key` without reading its data (nil: no such key).
    func dtypeAndShape(_ key: String) -> (dtype: DType, shape: [Int])?
    /// The tensor stored under `key`, read from disk now.
    func tensor(_ key: String) throws -> Tensor
    /// The raw little-endian bytes of `key` in row-major order, read from disk now, without the engine.
    func bytes(_ key: String) throws -> Data
    /// Every tensor at once (small models, tests).
    func tensors() throws -> [String: Tensor]
}

extension SafeTensorsCheckpoint: CheckpointSource {
    public func dtypeAndShape(_ key: String) -> (dtype: DType, shape: [Int])? {
        info(key).map { ($0.dtype, $0.shape) }
    }

    public func bytes(_ key: String) throws -> Data {
        guard let file = location[key] else { throw SafeTensorsError.missingTensor(file: source, key: key, count: nil) }
        return try file.bytes(key)
    }
}

extension TorchCheckpointFile: CheckpointSource {
    public var source: String { url.path }

    public func dtypeAndShape(_ key: String) -> (dtype: DType, shape: [Int])? {
        references[key].map { ($0.dtype, $0.shape) }
    }

    public func tensors() throws -> [String: Tensor] { try stateDict() }
}

/// A checkpoint split over several `torch.save` files with an index (`pytorch_model.bin.index.json`: the
/// `{"weight_map": {key: shard file}}` layout of transformers' `save_pretrained(safe_serialization=False)`). Shards are
/// opened (their pickles read) at once; tensors are read on demand.
public final class ShardedTorchCheckpoint: CheckpointSource, @unchecked Sendable {
    public let source: String
    public let files: [TorchCheckpointFile]
    private var location: [String: TorchCheckpointFile] = [:]

    public var keys: [String] { location.keys.sorted() }

    public init(index url: URL) throws {
        source = url.path
        let object = try ConfigFile.object(from: url)
        guard let weightMap = object["weight_map"] as? [String: String] else {
            throw TorchCheckpointError.noWeightMap(file: url.path)
        }
        let folder = url.deletingLastPathComponent()
        for (key, shard) in weightMap.sorted(by: { $0.key < $1.key })
        where ContainedPath.resolve(shard, in: folder) == nil {
            throw TorchCheckpointError.shardOutsideFolder(file: url.path, key: key, shard: shard)
        }
        let names = Set(weightMap.values).sorted()
        files = try names.map { try TorchCheckpointFile(path: ContainedPath.resolve($0, in: folder)!) }
        let byName = Dictionary(uniqueKeysWithValues: zip(names, files))
        for (key, name) in weightMap {
            guard byName[name]!.references[key] != nil else {
                throw TorchCheckpointError.indexMismatch(file: url.path, key: key, shard: name)
            }
            location[key] = byName[name]!
        }
    }

    public func dtypeAndShape(_ key: String) -> (dtype: DType, shape: [Int])? { location[key]?.dtypeAndShape(key) }

    public func tensor(_ key: String) throws -> Tensor {
        guard let file = location[key] else {
            throw TorchCheckpointError.missingTensor(file: source, key: key, count: nil)
        }
        return try file.tensor(key)
    }

    public func bytes(_ key: String) throws -> Data {
        guard let file = location[key] else {
            throw TorchCheckpointError.missingTensor(file: source, key: key, count: nil)
        }
        return try file.bytes(key)
    }

    public func tensors() throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for file in files {
            for (key, tensor) in try file.stateDict() where location[key] === file { out[key] = tensor }
        }
        return out
    }
}

/// Opens a checkpoint by what it contains rather than by its extension:
/// - a folder: its safetensors files (sharded with `*.safetensors.index.json` or not); without any, its PyTorch
///   files with their index (`pytorch_model.bin.index.json`) or its single PyTorch file (`pytorch_model.bin`, …);
/// - a `*.bin.index.json` / `*.pt.index.json` file: the sharded PyTorch checkpoint it indexes;
/// - a file starting with a zip header (`PK\3\4`) or a pickle (`0x80`, not followed by a safetensors JSON header):
///   a `torch.save` checkpoint, read by the restricted unpickler;
/// - any other file: safetensors.
public func openCheckpoint(path url: URL) throws -> any CheckpointSource {
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) else {
        throw SafeTensorsError.missingPath(path: url.path)
    }
    if isFolder.boolValue {
        let contents = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        if !contents.contains(where: { $0.hasSuffix(".safetensors") || $0.hasSuffix(".safetensors.index.json") }) {
            if let index = contents.filter({ $0.hasSuffix(".bin.index.json") || $0.hasSuffix(".pt.index.json") })
                .sorted().first
            {
                return try ShardedTorchCheckpoint(index: url.appendingPathComponent(index))
            }
            let torchFiles = contents.filter { name in [".bin", ".pt", ".pth", ".ckpt"].contains { name.hasSuffix($0) }
            }.sorted()
            if torchFiles.count == 1 { return try TorchCheckpointFile(path: url.appendingPathComponent(torchFiles[0])) }
            if torchFiles.count > 1 {
                throw TorchCheckpointError.ambiguousFolder(folder: url.path, files: torchFiles)
            }
        }
        return try SafeTensorsCheckpoint(directory: url)
    }
    if url.lastPathComponent.hasSuffix(".bin.index.json") || url.lastPathComponent.hasSuffix(".pt.index.json") {
        return try ShardedTorchCheckpoint(index: url)
    }
    if isTorchCheckpoint(url) { return try TorchCheckpointFile(path: url) }
    return try SafeTensorsCheckpoint(file: url)
}

/// Whether the file's first bytes are those of a torch.save file: a zip archive, or a pickle that is not a
/// safetensors header (whose 8-byte length may happen to start with 0x80, but which is followed by '{').
func isTorchCheckpoint(_ url: URL) -> Bool {
    guard let handle = try? FileHandle(forReadingFrom: url) else { return false }
    defer { try? handle.close() }
    let head = [UInt8]((try? handle.read(upToCount: 9)) ?? Data())
    if head.starts(with: [0x50, 0x4b, 0x03, 0x04]) { return true }
    if head.count == 9 && head[8] == UInt8(ascii: "{") { return false }
    return head.count >= 2 && head[0] == 0x80 && (2...5).contains(head[1])
}
