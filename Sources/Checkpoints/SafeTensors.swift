import Engine
import Foundation

// The safetensors format: an 8-byte little-endian header length N, N bytes of JSON
// `{"__metadata__": {..}, "<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ..}`, then the raw
// little-endian tensor bytes (offsets relative to the end of the header). Opening a multi-gigabyte checkpoint reads
// only its header; each tensor is read and copied into the engine when asked for.

/// What a problem with a safetensors file is, with the file named.
public struct SafeTensorsError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let message: String
    public var description: String { "\(file): \(message)" }
    public init(file: String, message: String) {
        self.file = file
        self.message = message
    }
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
        func fail(_ message: String) -> SafeTensorsError { SafeTensorsError(file: name, message: message) }
        guard FileManager.default.fileExists(atPath: url.path) else { throw fail("file not found") }
        let handle: FileHandle
        let fileSize: Int
        do {
            handle = try FileHandle(forReadingFrom: url)
            fileSize = Int(try handle.seekToEnd())
            try handle.seek(toOffset: 0)
        } catch {
            throw fail("unreadable: \(error.localizedDescription)")
        }
        guard fileSize >= 8, let prefix = try? handle.read(upToCount: 8), prefix.count == 8 else {
            throw fail("truncated: \(fileSize) bytes, a safetensors file has at least 8")
        }
        let headerLength = prefix.withUnsafeBytes {
            UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        }
        guard headerLength <= UInt64(fileSize - 8) else {
            throw fail(
                """
                truncated or not safetensors: header length \(headerLength) exceeds the file's \(fileSize - 8) \
                remaining bytes
                """
            )
        }
        let headerEnd = 8 + Int(headerLength)
        guard let headerData = try? handle.read(upToCount: Int(headerLength)), headerData.count == Int(headerLength)
        else {
            throw fail("could not read the \(headerLength)-byte header")
        }
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: headerData) } catch {
            throw fail("header is not valid JSON (\(headerLength) bytes)")
        }
        guard let header = json as? [String: Any] else { throw fail("header is not a JSON object") }
        let dataSize = fileSize - headerEnd
        var metadata: [String: String] = [:]
        var entries: [String: TensorInfo] = [:]
        for (key, value) in header {
            if key == "__metadata__" {
                guard let pairs = value as? [String: Any] else { throw fail("__metadata__ is not an object") }
                for (k, v) in pairs { metadata[k] = (v as? String) ?? "\(v)" }
                continue
            }
            guard let entry = value as? [String: Any], let dtypeName = entry["dtype"] as? String,
                let shape = (entry["shape"] as? [NSNumber])?.map(\.intValue),
                let offsets = (entry["data_offsets"] as? [NSNumber])?.map(\.intValue), offsets.count == 2
            else { throw fail("tensor '\(key)': malformed header entry (needs dtype, shape, data_offsets)") }
            guard let dtype = DType(safetensorsName: dtypeName) else {
                throw fail("tensor '\(key)': unsupported dtype \(dtypeName)")
            }
            guard shape.allSatisfy({ $0 >= 0 }), offsets[0] >= 0, offsets[0] <= offsets[1] else {
                throw fail("tensor '\(key)': invalid shape \(shape) or offsets \(offsets)")
            }
            let expectedBytes = shape.reduce(1, *) * dtype.size
            guard offsets[1] - offsets[0] == expectedBytes else {
                throw fail(
                    """
                    tensor '\(key)': \(dtypeName) \(shape) needs \(expectedBytes) bytes, the header gives \
                    \(offsets[1] - offsets[0])
                    """
                )
            }
            guard offsets[1] <= dataSize else {
                throw fail(
                    "truncated: tensor '\(key)' ends at byte \(offsets[1]) of the data section, which has \(dataSize)")
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
            throw SafeTensorsError(
                file: url.path, message: "no tensor '\(key)' (the file has \(entries.count) tensors)")
        }
        let count = info.dataOffsets.count
        lock.lock()
        defer { lock.unlock() }
        let bytes: Data
        do {
            try handle.seek(toOffset: UInt64(dataStart + info.dataOffsets.lowerBound))
            bytes = try handle.read(upToCount: count) ?? Data()
        } catch {
            throw SafeTensorsError(
                file: url.path, message: "tensor '\(key)': read failed: \(error.localizedDescription)")
        }
        guard bytes.count == count else {
            throw SafeTensorsError(
                file: url.path, message: "truncated: tensor '\(key)' has \(bytes.count) of its \(count) bytes")
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
