import Engine
import Foundation

// The safetensors format: an 8-byte little-endian header length N, N bytes of JSON
// `{"__metadata__": {..}, "<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ..}`, then the raw
// little-endian tensor bytes (offsets relative to the end of the header). Opening a multi-gigabyte checkpoint reads
// only its header; each tensor is read and copied into the engine when asked for.

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
        guard headerLength <= UInt64(SafeTensorsLimits.maxHeaderBytes) else {
            throw SafeTensorsError.headerTooLarge(
                file: name, headerLength: headerLength, limit: SafeTensorsLimits.maxHeaderBytes)
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
            entries[key] = try SafeTensorsLimits.entry(value, key: key, file: name)
        }
        try SafeTensorsLimits.checkLayout(entries, dataSize: fileSize - headerEnd, file: name)
        self.handle = handle
        self.dataStart = headerEnd
        self.metadata = metadata
        self.entries = entries
    }

    deinit { try? handle.close() }

    /// The tensor stored under `key`, copied into the engine.
    public func tensor(_ key: String) throws -> Tensor {
        let bytes = try self.bytes(key)
        let info = entries[key]!
        if bytes.isEmpty { return Tensor.zeros(info.shape, dtype: info.dtype) }
        return bytes.withUnsafeBytes { Tensor(bytes: $0.baseAddress!, shape: info.shape, dtype: info.dtype) }
    }

    /// The raw little-endian bytes of the tensor stored under `key`, read from disk now.
    public func bytes(_ key: String) throws -> Data {
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
        return bytes
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
        let entries = keys.map { StreamedEntry(key: $0, dtype: tensors[$0]!.dtype, shape: tensors[$0]!.shape) }
        try save(streaming: entries, metadata: metadata, to: url) { write in
            for key in keys { try write(key, tensors[key]!) }
        }
    }

    /// A tensor a streamed file will hold: written in the order the entries are listed.
    public struct StreamedEntry: Sendable {
        public var key: String
        public var dtype: DType
        public var shape: [Int]

        public init(key: String, dtype: DType, shape: [Int]) {
            self.key = key
            self.dtype = dtype
            self.shape = shape
        }
    }

    /// A file too large to hold in memory at once (a sharded optimizer state gathered piece by piece): the header is
    /// written from `entries`, then `produce` hands the tensors over one at a time, in the entries' order, each
    /// written and dropped before the next. The data section follows the entries' order (readers go by offsets), and
    /// the file appears atomically once every tensor was written. A tensor out of order or of another dtype or shape
    /// than its entry says is refused.
    public static func save(
        streaming entries: [StreamedEntry], metadata: [String: String] = [:], to url: URL,
        produce: (_ write: (String, Tensor) throws -> Void) throws -> Void
    ) throws {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for entry in entries {
            let size = entry.shape.reduce(entry.dtype.size, *)
            header[entry.key] =
                ["dtype": entry.dtype.safetensorsName, "shape": entry.shape, "data_offsets": [offset, offset + size]]
                as [String: Any]
            offset += size
        }
        var headerBytes = try JSONSerialization.data(
            withJSONObject: header, options: [.sortedKeys, .withoutEscapingSlashes])
        // Pad with spaces so the data section starts 8-byte aligned, which lets readers map tensors in place.
        while (8 + headerBytes.count) % 8 != 0 { headerBytes.append(UInt8(ascii: " ")) }
        try AtomicFile.write(to: url) { handle in
            var length = UInt64(headerBytes.count).littleEndian
            try handle.write(contentsOf: Data(bytes: &length, count: 8))
            try handle.write(contentsOf: headerBytes)
            var next = 0
            try produce { key, tensor in
                guard next < entries.count, entries[next].key == key, entries[next].dtype == tensor.dtype,
                    entries[next].shape == tensor.shape
                else {
                    let expected =
                        next < entries.count
                        ? "'\(entries[next].key)' \(entries[next].dtype) \(entries[next].shape)" : "no more tensors"
                    throw SafeTensorsError.streamOutOfOrder(
                        file: url.path, expected: expected, found: "'\(key)' \(tensor.dtype) \(tensor.shape)")
                }
                try handle.write(contentsOf: tensor.bytes())
                next += 1
            }
            guard next == entries.count else {
                throw SafeTensorsError.streamOutOfOrder(
                    file: url.path, expected: "'\(entries[next].key)'", found: "the end after \(next) tensors")
            }
        }
    }
}
