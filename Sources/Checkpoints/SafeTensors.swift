import Engine
import Foundation

// The safetensors format: an 8-byte little-endian header length N, N bytes of JSON
// `{"__metadata__": {..}, "<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ..}`, then the raw
// little-endian tensor bytes (offsets relative to the end of the header). Opening a multi-gigabyte checkpoint reads
// only its header; each tensor is read and copied into the engine when asked for.

/// What a problem with a safetensors file (or a folder or index of them) is, with the file named.
public enum SafeTensorsError: Error, CustomStringConvertible, Sendable {
    /// Opening a safetensors file that does not exist.
    case missingFile(file: String)
    /// Opening a checkpoint path (file or folder) that does not exist.
    case missingPath(path: String)
    /// The file exists but could not be opened or measured.
    case unreadable(file: String, reason: String)
    /// A checkpoint folder whose contents could not be listed.
    case unreadableFolder(folder: String)
    /// A checkpoint folder with neither `.safetensors` files nor a `*.safetensors.index.json`.
    case emptyFolder(folder: String)
    /// A file shorter than the 8-byte header length.
    case tooShort(file: String, size: Int)
    /// The header length prefix claims more bytes than the file holds after it.
    case headerLengthExceedsFile(file: String, headerLength: UInt64, remaining: Int)
    /// The JSON header could not be read or is not the expected object (`reason` says which).
    case badHeader(file: String, reason: String)
    /// A tensor's header entry lacks a field or has an invalid shape or offsets (`reason` says which).
    case badEntry(file: String, key: String, reason: String)
    /// A tensor's header entry names a dtype this reader does not support.
    case dtypeUnsupported(file: String, key: String, dtype: String)
    /// A tensor's byte range does not match its dtype and shape.
    case sizeMismatch(file: String, key: String, dtype: String, shape: [Int], expected: Int, found: Int)
    /// A tensor's byte range ends past the data section.
    case tensorPastEnd(file: String, key: String, end: Int, dataSize: Int)
    /// A tensor key that is not in the file or checkpoint (`count`: the file's number of tensors, when reported).
    case missingTensor(file: String, key: String, count: Int?)
    /// Reading a tensor's bytes failed.
    case readFailed(file: String, key: String, reason: String)
    /// A tensor's bytes ended early: `available` of its `needed` bytes were read.
    case truncated(file: String, key: String, needed: Int, available: Int)
    /// A `*.safetensors.index.json` without a `weight_map` object.
    case noWeightMap(file: String)
    /// An index maps `key` to a shard that does not contain it.
    case indexMismatch(file: String, key: String, shard: String)
    /// The same key appears in two shards of one checkpoint.
    case duplicateKey(file: String, key: String, first: String, second: String)
    /// A file expected to hold the tensor `expected` (or exactly one tensor) holds the keys `found`.
    case unexpectedKeys(file: String, expected: String, found: [String])

    /// The file or folder the problem is in.
    public var file: String {
        switch self {
        case .missingFile(let file), .unreadable(let file, _), .tooShort(let file, _),
            .headerLengthExceedsFile(let file, _, _), .badHeader(let file, _), .badEntry(let file, _, _),
            .dtypeUnsupported(let file, _, _), .sizeMismatch(let file, _, _, _, _, _),
            .tensorPastEnd(let file, _, _, _),
            .missingTensor(let file, _, _), .readFailed(let file, _, _), .truncated(let file, _, _, _),
            .noWeightMap(let file), .indexMismatch(let file, _, _), .duplicateKey(let file, _, _, _),
            .unexpectedKeys(let file, _, _):
            return file
        case .missingPath(let path): return path
        case .unreadableFolder(let folder), .emptyFolder(let folder): return folder
        }
    }

    /// What went wrong, without the file.
    public var message: String {
        switch self {
        case .missingFile: return "file not found"
        case .missingPath: return "not found"
        case .unreadable(_, let reason): return "unreadable: \(reason)"
        case .unreadableFolder: return "not a readable folder"
        case .emptyFolder: return "no .safetensors file or *.safetensors.index.json in the folder"
        case .tooShort(_, let size): return "truncated: \(size) bytes, a safetensors file has at least 8"
        case .headerLengthExceedsFile(_, let headerLength, let remaining):
            return """
                truncated or not safetensors: header length \(headerLength) exceeds the file's \(remaining) \
                remaining bytes
                """
        case .badHeader(_, let reason): return reason
        case .badEntry(_, let key, let reason): return "tensor '\(key)': \(reason)"
        case .dtypeUnsupported(_, let key, let dtype): return "tensor '\(key)': unsupported dtype \(dtype)"
        case .sizeMismatch(_, let key, let dtype, let shape, let expected, let found):
            return "tensor '\(key)': \(dtype) \(shape) needs \(expected) bytes, the header gives \(found)"
        case .tensorPastEnd(_, let key, let end, let dataSize):
            return "truncated: tensor '\(key)' ends at byte \(end) of the data section, which has \(dataSize)"
        case .missingTensor(_, let key, let count):
            return "no tensor '\(key)'" + (count.map { " (the file has \($0) tensors)" } ?? "")
        case .readFailed(_, let key, let reason): return "tensor '\(key)': read failed: \(reason)"
        case .truncated(_, let key, let needed, let available):
            return "truncated: tensor '\(key)' has \(available) of its \(needed) bytes"
        case .noWeightMap: return "no 'weight_map' object"
        case .indexMismatch(_, let key, let shard): return "index maps '\(key)' to \(shard), which does not contain it"
        case .duplicateKey(_, let key, let first, let second):
            return "key '\(key)' appears in both \(first) and \(second)"
        case .unexpectedKeys(_, let expected, let found): return "expected a tensor '\(expected)', found \(found)"
        }
    }

    public var description: String { "\(file): \(message)" }
}

/// A tensor's entry in a safetensors header.
public struct TensorInfo: Sendable, Equatable {
    public let dtype: DType
    public let shape: [Int]
    /// Byte range inside the data section.
    public let dataOffsets: Range<Int>
}

/// One open safetensors file. The header is parsed on opening; each tensor is read from disk when asked for into a
/// buffer that is freed once the engine has its copy, so loading a checkpoint holds at most the model plus one tensor
/// (a memory map would leave every touched page resident as well).
public final class SafeTensorsFile: @unchecked Sendable {
    public let url: URL
    public let metadata: [String: String]
    /// Header entries by key.
    public let entries: [String: TensorInfo]
    private let dataStart: Int
    private let handle: FileHandle
    private let lock = NSLock()

    public var keys: [String] { entries.keys.sorted() }

    public init(url: URL) throws {
        self.url = url
        let name = url.path
        guard FileManager.default.fileExists(atPath: url.path) else { throw SafeTensorsError.missingFile(file: name) }
        let handle: FileHandle
        let fileSize: Int
        do {
            handle = try FileHandle(forReadingFrom: url)
            fileSize = Int(try handle.seekToEnd())
            try handle.seek(toOffset: 0)
        } catch {
            throw SafeTensorsError.unreadable(file: name, reason: error.localizedDescription)
        }
        guard fileSize >= 8, let prefix = try? handle.read(upToCount: 8), prefix.count == 8 else {
            throw SafeTensorsError.tooShort(file: name, size: fileSize)
        }
        let headerLength = prefix.withUnsafeBytes {
            UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        }
        guard headerLength <= UInt64(fileSize - 8) else {
            throw SafeTensorsError.headerLengthExceedsFile(
                file: name, headerLength: headerLength, remaining: fileSize - 8)
        }
        let headerEnd = 8 + Int(headerLength)
        guard let headerData = try? handle.read(upToCount: Int(headerLength)), headerData.count == Int(headerLength)
        else {
            throw SafeTensorsError.badHeader(file: name, reason: "could not read the \(headerLength)-byte header")
        }
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: headerData) } catch {
            throw SafeTensorsError.badHeader(file: name, reason: "header is not valid JSON (\(headerLength) bytes)")
        }
        guard let header = json as? [String: Any] else {
            throw SafeTensorsError.badHeader(file: name, reason: "header is not a JSON object")
        }
        let dataSize = fileSize - headerEnd
        var metadata: [String: String] = [:]
        var entries: [String: TensorInfo] = [:]
        for (key, value) in header {
            if key == "__metadata__" {
                guard let pairs = value as? [String: Any] else {
                    throw SafeTensorsError.badHeader(file: name, reason: "__metadata__ is not an object")
                }
                for (k, v) in pairs { metadata[k] = (v as? String) ?? "\(v)" }
                continue
            }
            guard let entry = value as? [String: Any], let dtypeName = entry["dtype"] as? String,
                let shape = (entry["shape"] as? [NSNumber])?.map(\.intValue),
                let offsets = (entry["data_offsets"] as? [NSNumber])?.map(\.intValue), offsets.count == 2
            else {
                throw SafeTensorsError.badEntry(
                    file: name, key: key, reason: "malformed header entry (needs dtype, shape, data_offsets)")
            }
            guard let dtype = DType(safetensorsName: dtypeName) else {
                throw SafeTensorsError.dtypeUnsupported(file: name, key: key, dtype: dtypeName)
            }
            guard shape.allSatisfy({ $0 >= 0 }), offsets[0] >= 0, offsets[0] <= offsets[1] else {
                throw SafeTensorsError.badEntry(
                    file: name, key: key, reason: "invalid shape \(shape) or offsets \(offsets)")
            }
            let expectedBytes = shape.reduce(1, *) * dtype.size
            guard offsets[1] - offsets[0] == expectedBytes else {
                throw SafeTensorsError.sizeMismatch(
                    file: name, key: key, dtype: dtypeName, shape: shape, expected: expectedBytes,
                    found: offsets[1] - offsets[0])
            }
            guard offsets[1] <= dataSize else {
                throw SafeTensorsError.tensorPastEnd(file: name, key: key, end: offsets[1], dataSize: dataSize)
            }
            entries[key] = TensorInfo(dtype: dtype, shape: shape, dataOffsets: offsets[0]..<offsets[1])
        }
        self.handle = handle
        self.dataStart = headerEnd
        self.metadata = metadata
        self.entries = entries
    }

    deinit { try? handle.close() }

    /// The tensor stored under `key`, copied into the engine.
    public func tensor(_ key: String) throws -> Tensor {
        guard let info = entries[key] else {
            throw SafeTensorsError.missingTensor(file: url.path, key: key, count: entries.count)
        }
        let count = info.dataOffsets.count
        lock.lock()
        defer { lock.unlock() }
        let bytes: Data
        do {
            try handle.seek(toOffset: UInt64(dataStart + info.dataOffsets.lowerBound))
            bytes = try handle.read(upToCount: count) ?? Data()
        } catch {
            throw SafeTensorsError.readFailed(file: url.path, key: key, reason: error.localizedDescription)
        }
        guard bytes.count == count else {
            throw SafeTensorsError.truncated(file: url.path, key: key, needed: count, available: bytes.count)
        }
        if count == 0 { return Tensor.zeros(info.shape, dtype: info.dtype) }
        return bytes.withUnsafeBytes { Tensor(bytes: $0.baseAddress!, shape: info.shape, dtype: info.dtype) }
    }

    /// Every tensor of the file.
    public func tensors() throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for key in entries.keys { out[key] = try tensor(key) }
        return out
    }
}

public enum SafeTensors {
    /// Every tensor of a safetensors file.
    public static func load(_ url: URL) throws -> [String: Tensor] {
        try SafeTensorsFile(url: url).tensors()
    }

    /// Every tensor and the `__metadata__` strings.
    public static func loadWithMetadata(_ url: URL) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        let file = try SafeTensorsFile(url: url)
        return (try file.tensors(), file.metadata)
    }

    /// Writes `tensors` (keys sorted, data 8-byte aligned) atomically: a crash mid-write leaves any previous file
    /// intact.
    public static func save(_ tensors: [String: Tensor], metadata: [String: String] = [:], to url: URL) throws {
        let keys = tensors.keys.sorted()
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for key in keys {
            let t = tensors[key]!
            header[key] =
                ["dtype": t.dtype.safetensorsName, "shape": t.shape, "data_offsets": [offset, offset + t.nbytes]]
                as [String: Any]
            offset += t.nbytes
        }
        var headerBytes = try JSONSerialization.data(
            withJSONObject: header, options: [.sortedKeys, .withoutEscapingSlashes])
        // Pad with spaces so the data section starts 8-byte aligned, which lets readers map tensors in place.
        while (8 + headerBytes.count) % 8 != 0 { headerBytes.append(UInt8(ascii: " ")) }
        try AtomicFile.write(to: url) { handle in
            var length = UInt64(headerBytes.count).littleEndian
            try handle.write(contentsOf: Data(bytes: &length, count: 8))
            try handle.write(contentsOf: headerBytes)
            for key in keys { try handle.write(contentsOf: tensors[key]!.bytes()) }
        }
    }
}
