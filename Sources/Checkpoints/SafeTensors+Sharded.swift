import Engine
import Foundation

/// A checkpoint that may span several safetensors files: a folder with `*.safetensors.index.json` (the
/// transformers/diffusers `weight_map` layout), a folder with one or more `.safetensors` files, or a single file.
/// Tensors are read on demand, shard by shard, so a model can be loaded without holding the whole file set in memory.
public final class SafeTensorsCheckpoint: @unchecked Sendable {
    /// Where each key lives.
    public private(set) var location: [String: SafeTensorsFile] = [:]
    public let files: [SafeTensorsFile]
    /// A name for messages: the folder or file.
    public let source: String

    public var keys: [String] { location.keys.sorted() }

    public convenience init(directory: URL) throws {
        let contents: [String]
        do { contents = try FileManager.default.contentsOfDirectory(atPath: directory.path) } catch {
            throw SafeTensorsError.unreadableFolder(folder: directory.path)
        }
        if let index = contents.filter({ $0.hasSuffix(".safetensors.index.json") }).sorted().first {
            try self.init(index: directory.appendingPathComponent(index))
            return
        }
        let shards = contents.filter { $0.hasSuffix(".safetensors") }.sorted()
        guard !shards.isEmpty else {
            throw SafeTensorsError.emptyFolder(folder: directory.path)
        }
        try self.init(
            files: shards.map { try SafeTensorsFile(url: directory.appendingPathComponent($0)) }, source: directory.path
        )
    }

    public convenience init(file: URL) throws {
        try self.init(files: [SafeTensorsFile(url: file)], source: file.path)
    }

    /// Opens a folder or a single file.
    public convenience init(path: URL) throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path.path, isDirectory: &isFolder) else {
            throw SafeTensorsError.missingPath(path: path.path)
        }
        if isFolder.boolValue { try self.init(directory: path) } else { try self.init(file: path) }
    }

    private convenience init(index url: URL) throws {
        let object = try ConfigFile.object(from: url)
        guard let weightMap = object["weight_map"] as? [String: String] else {
            throw SafeTensorsError.noWeightMap(file: url.path)
        }
        let folder = url.deletingLastPathComponent()
        for (key, shard) in weightMap.sorted(by: { $0.key < $1.key })
        where ContainedPath.resolve(shard, in: folder) == nil {
            throw SafeTensorsError.shardOutsideFolder(file: url.path, key: key, shard: shard)
        }
        var opened: [String: SafeTensorsFile] = [:]
        for name in Set(weightMap.values).sorted() {
            opened[name] = try SafeTensorsFile(url: ContainedPath.resolve(name, in: folder)!)
        }
        try self.init(files: Set(weightMap.values).sorted().map { opened[$0]! }, source: url.path)
        for (key, shard) in weightMap where opened[shard]!.entries[key] == nil {
            throw SafeTensorsError.indexMismatch(file: url.path, key: key, shard: shard)
        }
    }

    private init(files: [SafeTensorsFile], source: String) throws {
        self.files = files
        self.source = source
        for file in files {
            for key in file.entries.keys {
                if let other = location[key] {
                    throw SafeTensorsError.duplicateKey(
                        file: source, key: key, first: other.url.lastPathComponent, second: file.url.lastPathComponent)
                }
                location[key] = file
            }
        }
    }

    public func info(_ key: String) -> TensorInfo? { location[key]?.entries[key] }

    public func tensor(_ key: String) throws -> Tensor {
        guard let file = location[key] else { throw SafeTensorsError.missingTensor(file: source, key: key, count: nil) }
        return try file.tensor(key)
    }

    /// Every tensor, all at once (small models, tests).
    public func tensors() throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for file in files { out.merge(try file.tensors()) { a, _ in a } }
        return out
    }

    /// Visits the shards one at a time with their tensors, so peak memory is one shard plus what the caller keeps.
    public func forEachShard(_ body: (SafeTensorsFile, [String: Tensor]) throws -> Void) throws {
        for file in files { try body(file, try file.tensors()) }
    }

    /// Writes `tensors` as shards of at most `maxShardBytes` plus an index, like `save_pretrained` does
    /// (`<name>-00001-of-0000N.safetensors`, `<name>.safetensors.index.json`); one file when everything fits.
    public static func save(
        _ tensors: [String: Tensor], to directory: URL, name: String = "model",
        maxShardBytes: Int = 5 << 30, metadata: [String: String] = [:]
    ) throws {
        var shards: [[String]] = [[]]
        var size = 0
        for key in tensors.keys.sorted() {
            let bytes = tensors[key]!.nbytes
            if size > 0 && size + bytes > maxShardBytes { shards.append([]); size = 0 }
            shards[shards.count - 1].append(key)
            size += bytes
        }
        if shards.count == 1 {
            try SafeTensors.save(
                tensors, metadata: metadata, to: directory.appendingPathComponent("\(name).safetensors"))
            return
        }
        var weightMap: [String: String] = [:]
        for (i, keys) in shards.enumerated() {
            func fiveDigits(_ n: Int) -> String {
                String(repeating: "0", count: max(0, 5 - String(n).count)) + String(n)
            }
            let file = "\(name)-\(fiveDigits(i + 1))-of-\(fiveDigits(shards.count)).safetensors"
            try SafeTensors.save(
                Dictionary(uniqueKeysWithValues: keys.map { ($0, tensors[$0]!) }), metadata: metadata,
                to: directory.appendingPathComponent(file))
            for key in keys { weightMap[key] = file }
        }
        let total = tensors.values.reduce(0) { $0 + $1.nbytes }
        let index: [String: Any] = ["metadata": ["total_size": total], "weight_map": weightMap]
        try AtomicFile.write(
            try JSONSerialization.data(withJSONObject: index, options: [.sortedKeys, .prettyPrinted]),
            to: directory.appendingPathComponent("\(name).safetensors.index.json"))
    }
}
