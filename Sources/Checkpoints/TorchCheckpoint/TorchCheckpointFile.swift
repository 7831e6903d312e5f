import Engine
import Foundation

// A PyTorch checkpoint as `torch.save` writes it (`.pt`, `.pth`, `.bin` such as `pytorch_model.bin` and
// `open_clip_pytorch_model.bin`, `.ckpt`), read without Python and without ever executing the pickle:
//   - the zip format (torch ≥ 1.6): `<top>/data.pkl` is the pickled object, `<top>/data/<key>` each storage's raw
//     little-endian bytes, `<top>/byteorder` "little" or "big" (torch/serialization.py `_save`, `_load`);
//   - the legacy format (torch < 1.6, or `_use_new_zipfile_serialization=False`): five pickles back to back — magic
//     number, protocol version 1001, sys_info, the object, the sorted storage keys — then each storage as an 8-byte
//     little-endian element count and its bytes (torch/serialization.py `_legacy_save`, `_legacy_load`).
// Opening unpickles the object with the restricted unpickler (PickleMachine + TorchAllowlist) and keeps tensor
// references; each tensor's bytes are read when asked for, so a large checkpoint is never in memory twice.

public final class TorchCheckpointFile: @unchecked Sendable {
    public enum Format: String, Sendable {
        case zip
        case legacy
    }

    /// The key of the tensor of a file that holds one tensor rather than a state dict (`torch.save(tensor, path)`).
    public static let singleTensorKey = ""

    public let url: URL
    public let format: Format
    /// The tensors of the state dict, by key (flattened, `module.` removed: see `TorchStateDict`).
    public let references: [String: TorchTensorReference]
    /// Keys of the entries that are not tensors (`epoch`, hyperparameters, …), skipped.
    public let skippedKeys: [String]
    private let storages: StorageReader

    public var keys: [String] { references.keys.sorted() }

    /// Opens a torch.save file; `stateDictKey` names the entry that holds the state dict when the automatic choice
    /// (a dict of tensors, or its `state_dict` / `model_state_dict` / `model` / … entry) is not the one wanted
    /// (e.g. "ema", or "a/b" for a nested entry).
    public init(path url: URL, stateDictKey: String? = nil) throws {
        self.url = url
        let file = try RandomAccessFile(url: url)
        let head = try file.read(at: 0, count: Int(min(file.size, 8)), what: "the file's first bytes")
        let flattened: TorchStateDict.Flattened
        if head.starts(with: [0x50, 0x4b, 0x03, 0x04]) || head.starts(with: [0x50, 0x4b, 0x05, 0x06]) {
            (flattened, storages) = try Self.openZip(file, stateDictKey: stateDictKey)
            format = .zip
        } else if head.first == 0x80 {
            (flattened, storages) = try Self.openLegacy(file, stateDictKey: stateDictKey)
            format = .legacy
        } else {
            throw TorchCheckpointError.unknownFormat(file: url.path)
        }
        references = flattened.tensors
        skippedKeys = flattened.skipped
        for key in references.keys.sorted() { _ = try checkedSpan(references[key]!, key: key) }
    }

    /// The tensor stored under `key`, as a contiguous engine tensor (only the storage bytes it covers are read).
    public func tensor(_ key: String) throws -> Tensor {
        guard let reference = references[key] else {
            throw TorchCheckpointError.missingTensor(file: url.path, key: key, count: references.count)
        }
        let span = try checkedSpan(reference, key: key)
        return reference.materialise(try storages.read(reference.storage, elements: span, file: url.path))
    }

    /// The raw little-endian bytes of the tensor stored under `key`, in row-major order.
    public func bytes(_ key: String) throws -> Data {
        guard let reference = references[key] else {
            throw TorchCheckpointError.missingTensor(file: url.path, key: key, count: references.count)
        }
        let span = try checkedSpan(reference, key: key)
        return reference.contiguousBytes(try storages.read(reference.storage, elements: span, file: url.path))
    }

    /// Every tensor of the state dict; a storage shared by several tensors is read once.
    public func stateDict() throws -> [String: Tensor] {
        var byStorage: [String: [String]] = [:]
        for (key, reference) in references {
            byStorage["\(reference.storage.key)@\(reference.storage.rootOffset)", default: []].append(key)
        }
        var out: [String: Tensor] = [:]
        for group in byStorage.values {
            let spans = try group.map { try checkedSpan(references[$0]!, key: $0) }
            let lower = spans.map(\.lowerBound).min()!, upper = spans.map(\.upperBound).max()!
            let storage = references[group[0]]!.storage
            let bytes = try storages.read(storage, elements: lower..<upper, file: url.path)
            let size = storage.dtype.size
            for (key, span) in zip(group, spans) {
                let start = bytes.startIndex + (span.lowerBound - lower) * size
                out[key] = references[key]!.materialise(bytes[start..<(start + span.count * size)])
            }
        }
        return out
    }

    /// The elements the view covers, checked against its storage: inside it, with dimensions the engine indexes,
    /// and not expanding it beyond ``TorchViewLimits``.
    private func checkedSpan(_ reference: TorchTensorReference, key: String) throws -> Range<Int> {
        guard reference.shape.allSatisfy({ $0 <= TorchViewLimits.maxDimension }) else {
            throw TorchCheckpointError.dimensionTooLarge(
                file: url.path, key: key, shape: reference.shape, limit: TorchViewLimits.maxDimension)
        }
        let limit = TorchViewLimits.limit(storageElements: reference.storage.numel)
        guard reference.elementCount <= limit else {
            throw TorchCheckpointError.viewExpandsStorage(
                file: url.path, key: key, shape: reference.shape, strides: reference.strides,
                elements: reference.elementCount, storage: reference.storage.key, numel: reference.storage.numel,
                limit: limit)
        }
        let span = reference.span
        guard span.upperBound <= reference.storage.numel else {
            throw TorchCheckpointError.viewOutOfStorage(
                file: url.path, key: key, shape: reference.shape, strides: reference.strides, offset: reference.offset,
                reach: span.upperBound, storage: reference.storage.key, numel: reference.storage.numel)
        }
        return span
    }

    // MARK: - Zip format

    private static func openZip(_ file: RandomAccessFile, stateDictKey: String?) throws -> (
        TorchStateDict.Flattened, StorageReader
    ) {
        let path = file.url.path
        let archive = try ZipArchive(file: file)
        let pickles = archive.entries.filter {
            $0.name.hasSuffix("data.pkl") && $0.name.split(separator: "/").last == "data.pkl"
        }
        guard let pickle = pickles.min(by: { $0.name.count < $1.name.count }) else {
            let isTorchScript = archive.entries.contains { $0.name.hasSuffix("constants.pkl") }
            if isTorchScript { throw TorchCheckpointError.torchScript(file: path) }
            throw TorchCheckpointError.noDataPickle(
                file: path, entryCount: archive.entries.count, examples: archive.entries.prefix(3).map(\.name))
        }
        let prefix = String(pickle.name.dropLast("data.pkl".count))
        if let byteorder = archive.entry(prefix + "byteorder") {
            let order = String(decoding: try archive.read(byteorder), as: UTF8.self).trimmingCharacters(
                in: .whitespacesAndNewlines)
            guard order == "little" else {
                throw TorchCheckpointError.bigEndian(file: path, byteorder: order)
            }
        }
        let bytes = try archive.read(pickle)
        let policy = TorchRebuild.policy { id in .storage(try TorchRebuild.storage(fromPersistentID: id)) }
        var machine = PickleMachine(bytes: Array(bytes), policy: policy)
        var top = PickleValue.none
        defer { PickleValue.dismantle([top] + machine.retainedValues) }
        do { top = try machine.load() } catch let error as PickleError {
            throw TorchCheckpointError.zipPickle(
                file: path, entry: pickle.name, offset: error.offset, opcode: error.opcode, reason: error.message)
        }
        return (try TorchStateDict.flatten(top, stateDictKey: stateDictKey, file: path), .zip(archive, prefix: prefix))
    }

    // MARK: - Legacy format

    /// torch's magic number 0x1950a86a20f9469cfc6c, as LONG1 pickles it (little-endian).
    private static let legacyMagic: [UInt8] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]

    private static func openLegacy(_ file: RandomAccessFile, stateDictKey: String?) throws -> (
        TorchStateDict.Flattened, StorageReader
    ) {
        let path = file.url.path
        // The pickles come first and are small next to the storages after them; read a prefix, larger until they fit.
        var prefixLength = Int(min(file.size, 1 << 20))
        while true {
            let bytes = Array(try file.read(at: 0, count: prefixLength, what: "the pickles"))
            var storages: [String: TorchStorage] = [:]
            let policy = TorchRebuild.policy { id in
                let storage = try TorchRebuild.storage(fromPersistentID: id)
                storages[storage.key] = storage
                return .storage(storage)
            }
            // One machine per pickle, all kept until the end and then dismantled (see `PickleValue.dismantle`).
            var machines: [PickleMachine] = []
            var results: [PickleValue] = []
            defer { PickleValue.dismantle(results + machines.flatMap(\.retainedValues)) }
            func next() throws -> PickleValue {
                var machine = PickleMachine(bytes: bytes, start: machines.last?.position ?? 0, policy: policy)
                defer { machines.append(machine) }
                let result = try machine.load()
                results.append(result)
                return result
            }
            var stage = "magic number"
            do {
                guard case .bigInt(let magic) = try next(), magic == legacyMagic else {
                    throw TorchCheckpointError.notTorchSave(file: path)
                }
                stage = "protocol version"
                guard case .int(1001) = try next() else {
                    throw TorchCheckpointError.unsupportedLegacyVersion(file: path)
                }
                stage = "sys_info"
                if case .dict(let info) = try next(), case .bool(false)? = info["little_endian"] {
                    throw TorchCheckpointError.bigEndian(file: path, byteorder: nil)
                }
                stage = "object"
                let top = try next()
                stage = "storage keys"
                guard case .list(let keyList) = try next() else {
                    throw TorchCheckpointError.badLegacyLayout(file: path, reason: "no list of storage keys")
                }
                // Each storage: an 8-byte element count, then the elements. Their sizes come from the persistent ids.
                var position = UInt64(machines.last!.position)
                var locations: [String: (offset: UInt64, numel: Int)] = [:]
                for item in keyList.items {
                    guard case .string(let key) = item else {
                        throw TorchCheckpointError.badLegacyLayout(file: path, reason: "storage key is \(item.kind)")
                    }
                    guard let storage = storages[key] else {
                        throw TorchCheckpointError.badLegacyLayout(
                            file: path, reason: "storage '\(key)' is listed but no tensor uses it")
                    }
                    let count = try file.read(at: position, count: 8, what: "the element count of storage '\(key)'")
                        .littleEndian(at: 0, width: 8)
                    guard count <= file.size / UInt64(storage.dtype.size) else {
                        throw TorchCheckpointError.storageCountTooLarge(file: path, storage: key, count: count)
                    }
                    let numel = Int(count)
                    locations[key] = (position + 8, numel)
                    // count ≤ file size / element size bounds the product; the running sum is checked.
                    let (next, overflow) = position.addingReportingOverflow(8 + count * UInt64(storage.dtype.size))
                    guard !overflow else {
                        throw TorchCheckpointError.storageCountTooLarge(file: path, storage: key, count: count)
                    }
                    position = next
                }
                return (
                    try TorchStateDict.flatten(top, stateDictKey: stateDictKey, file: path),
                    .legacy(file, locations: locations)
                )
            } catch let error as PickleError {
                if case .truncated = error, prefixLength < Int(file.size) {
                    prefixLength = Int(min(file.size, UInt64(prefixLength) * 4))
                    continue
                }
                throw TorchCheckpointError.legacyPickle(
                    file: path, stage: stage, offset: error.offset, opcode: error.opcode, reason: error.message)
            }
        }
    }
}

/// Where storages' bytes are.
enum StorageReader: Sendable {
    case zip(ZipArchive, prefix: String)
    /// Data offset and element count of each root storage.
    case legacy(RandomAccessFile, locations: [String: (offset: UInt64, numel: Int)])

    /// Elements `elements` of `storage`.
    func read(_ storage: TorchStorage, elements: Range<Int>, file: String) throws -> Data {
        let size = storage.dtype.size
        let expected = (storage.rootOffset + storage.numel) * size
        switch self {
        case .zip(let archive, let prefix):
            let name = prefix + "data/" + storage.key
            guard let entry = archive.entry(name) else {
                throw TorchCheckpointError.missingStorage(file: file, storage: storage.key, entry: name)
            }
            guard entry.uncompressedSize >= UInt64(expected) else {
                throw TorchCheckpointError.storageTooSmall(
                    file: file, storage: storage.key, expected: expected, numel: storage.numel, dtype: storage.dtype,
                    found: entry.uncompressedSize)
            }
            return try archive.read(entry, offset: UInt64(elements.lowerBound * size), count: elements.count * size)
        case .legacy(let handle, let locations):
            guard let location = locations[storage.key] else {
                throw TorchCheckpointError.missingStorage(file: file, storage: storage.key, entry: nil)
            }
            let available = handle.size > location.offset ? handle.size - location.offset : 0
            guard location.numel * size >= expected, available >= UInt64(expected) else {
                throw TorchCheckpointError.storageTooSmall(
                    file: file, storage: storage.key, expected: expected, numel: storage.numel, dtype: storage.dtype,
                    found: min(UInt64(location.numel * size), available))
            }
            let offset = location.offset + UInt64((storage.rootOffset + elements.lowerBound) * size)
            return try handle.read(at: offset, count: elements.count * size, what: "storage '\(storage.key)'")
        }
    }
}
