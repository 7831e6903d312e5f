import Engine
import Foundation

/// What a problem with a PyTorch checkpoint (`torch.save` output: `.pt`, `.pth`, `.bin`, `.ckpt`) is, with the file
/// named; each case carries the key, storage, pickle opcode offset, and what was expected against what was found.
public enum TorchCheckpointError: Error, CustomStringConvertible, Sendable {
    // MARK: Reading the file

    /// Opening a file that does not exist.
    case missingFile(file: String)
    /// The file exists but could not be opened or measured.
    case unreadable(file: String, reason: String)
    /// A read of `needed` bytes at `offset` for `what` reaches past the end of the file (`available` bytes there).
    case truncated(file: String, what: String, needed: Int, offset: UInt64, available: UInt64)
    /// Reading `what` failed.
    case readFailed(file: String, what: String, reason: String)
    /// A read of `what` returned `read` of its `expected` bytes.
    case shortRead(file: String, what: String, read: Int, expected: Int)

    // MARK: What the file is

    /// The file starts with neither a zip header nor a pickle.
    case unknownFormat(file: String)
    /// A pickle that does not start with torch.save's magic number.
    case notTorchSave(file: String)
    /// A TorchScript archive (`torch.jit.save`) rather than a `torch.save` checkpoint.
    case torchScript(file: String)
    /// A zip archive without `data.pkl`: `entryCount` entries, the first few named in `examples`.
    case noDataPickle(file: String, entryCount: Int, examples: [String])
    /// The storages were written big-endian: `byteorder` is the zip's `byteorder` entry, nil when the legacy format's
    /// sys_info said `little_endian=False`.
    case bigEndian(file: String, byteorder: String?)
    /// A legacy-format file whose protocol version is not 1001.
    case unsupportedLegacyVersion(file: String)

    // MARK: Zip container

    /// The zip directory structures are missing or inconsistent (`reason` says which).
    case corruptArchive(file: String, reason: String)
    /// A zip entry is encrypted.
    case encryptedEntry(file: String, entry: String)
    /// A zip entry is compressed (`method`: 8 for deflate) rather than stored.
    case compressedEntry(file: String, entry: String, method: UInt16)
    /// Bytes `lower..<upper` of a zip entry were asked for; the entry has `size`.
    case entryRangeOutOfBounds(file: String, entry: String, lower: UInt64, upper: UInt64, size: UInt64)
    /// A zip entry too large to read whole.
    case entryTooLarge(file: String, entry: String, size: UInt64)

    // MARK: Pickles

    /// The zip format's pickle `entry` failed at byte `offset`, opcode `opcode`.
    case zipPickle(file: String, entry: String, offset: Int, opcode: String, reason: String)
    /// One of the legacy format's pickles (`stage`: "magic number", "object", …) failed at byte `offset`.
    case legacyPickle(file: String, stage: String, offset: Int, opcode: String, reason: String)
    /// The legacy format's list of storage keys is missing or malformed (`reason` says how).
    case badLegacyLayout(file: String, reason: String)

    // MARK: Storages and tensors

    /// A legacy-format storage's element count is more than the whole file holds.
    case storageCountTooLarge(file: String, storage: String, count: UInt64)
    /// A storage with no bytes in the file: no zip entry `entry`, or (nil) not in the legacy list of storages.
    case missingStorage(file: String, storage: String, entry: String?)
    /// A storage has fewer bytes than its `numel` elements of `dtype` need (`expected` bytes).
    case storageTooSmall(file: String, storage: String, expected: Int, numel: Int, dtype: DType, found: UInt64)
    /// A tensor's view reaches element `reach` of a storage that has `numel`.
    case viewOutOfStorage(
        file: String, key: String, shape: [Int], strides: [Int], offset: Int, reach: Int, storage: String, numel: Int)
    /// A tensor's size has a dimension above what the engine can index (`limit`: 2^31 − 1).
    case dimensionTooLarge(file: String, key: String, shape: [Int], limit: Int)
    /// A view holds `elements` elements, more than `limit` (``TorchViewLimits``) for a storage of `numel`: a stride-0
    /// view that would broadcast a small storage into a huge tensor.
    case viewExpandsStorage(
        file: String, key: String, shape: [Int], strides: [Int], elements: Int, storage: String, numel: Int, limit: Int)
    /// A tensor key that is not in the file or checkpoint (`count`: the file's number of tensors, when reported).
    case missingTensor(file: String, key: String, count: Int?)
    /// A file expected to hold one tensor (`torch.save(tensor)`) holds the keys `keys`.
    case notASingleTensor(file: String, keys: [String])

    // MARK: State dict

    /// A `stateDictKey` path goes through `found` (a non-dict) at `component`.
    case stateDictKeyThroughNonDict(file: String, key: String, component: String, found: String)
    /// A `stateDictKey` path names `component`, which its dict lacks (`available`: the dict's entries).
    case stateDictKeyMissing(file: String, key: String, component: String, available: String)
    /// The object is `found`, not a state dict.
    case notAStateDict(file: String, found: String)
    /// Containers nested more than 64 deep at `entry`.
    case nestedTooDeep(file: String, entry: String)
    /// Two entries flatten to the same key.
    case duplicateKey(file: String, key: String)

    // MARK: Sharded checkpoints

    /// A `*.bin.index.json` without a `weight_map` object.
    case noWeightMap(file: String)
    /// An index maps `key` to a shard that does not contain it.
    case indexMismatch(file: String, key: String, shard: String)
    /// An index names a shard outside its folder (an absolute path, `..`, or a symbolic link leading out).
    case shardOutsideFolder(file: String, key: String, shard: String)
    /// A folder with no safetensors file and several PyTorch files, none of which can be chosen.
    case ambiguousFolder(folder: String, files: [String])

    /// The file or folder the problem is in.
    public var file: String {
        switch self {
        case .missingFile(let file), .unreadable(let file, _), .truncated(let file, _, _, _, _),
            .readFailed(let file, _, _), .shortRead(let file, _, _, _), .unknownFormat(let file),
            .notTorchSave(let file), .torchScript(let file), .noDataPickle(let file, _, _), .bigEndian(let file, _),
            .unsupportedLegacyVersion(let file), .corruptArchive(let file, _), .encryptedEntry(let file, _),
            .compressedEntry(let file, _, _), .entryRangeOutOfBounds(let file, _, _, _, _),
            .entryTooLarge(let file, _, _), .zipPickle(let file, _, _, _, _), .legacyPickle(let file, _, _, _, _),
            .badLegacyLayout(let file, _), .storageCountTooLarge(let file, _, _), .missingStorage(let file, _, _),
            .storageTooSmall(let file, _, _, _, _, _), .viewOutOfStorage(let file, _, _, _, _, _, _, _),
            .missingTensor(let file, _, _), .notASingleTensor(let file, _),
            .stateDictKeyThroughNonDict(let file, _, _, _), .stateDictKeyMissing(let file, _, _, _),
            .notAStateDict(let file, _), .nestedTooDeep(let file, _), .duplicateKey(let file, _),
            .noWeightMap(let file), .indexMismatch(let file, _, _), .dimensionTooLarge(let file, _, _, _),
            .viewExpandsStorage(let file, _, _, _, _, _, _, _), .shardOutsideFolder(let file, _, _):
            return file
        case .ambiguousFolder(let folder, _): return folder
        }
    }

    /// What went wrong, without the file.
    public var message: String {
        switch self {
        case .missingFile: return "file not found"
        case .unreadable(_, let reason): return "unreadable: \(reason)"
        case .truncated(_, let what, let needed, let offset, let available):
            return
                """
                truncated: \(what.escapedForTerminal) needs \(needed) bytes at offset \(offset), the file has \
                \(available) there
                """
        case .readFailed(_, let what, let reason): return "\(what.escapedForTerminal): read failed: \(reason)"
        case .shortRead(_, let what, let read, let expected):
            return "truncated: \(what.escapedForTerminal) has \(read) of its \(expected) bytes"
        case .unknownFormat:
            return "not a PyTorch checkpoint: it starts with neither a zip header (PK\\3\\4) nor a pickle (0x80)"
        case .notTorchSave: return "not a PyTorch checkpoint: a pickle, but not torch.save's (no magic number)"
        case .torchScript:
            return """
                a TorchScript archive (torch.jit.save), not a torch.save checkpoint: load it in Python and \
                save model.state_dict()
                """
        case .noDataPickle(_, let entryCount, let examples):
            return "a zip archive without data.pkl, not a torch.save checkpoint (\(entryCount) entries, e.g. "
                + examples.map { "'\($0.escapedForTerminal)'" }.joined(separator: ", ") + ")"
        case .bigEndian(_, let byteorder?):
            return """
                byteorder is '\(byteorder.escapedForTerminal)': the storages were written on a big-endian machine; \
                only little-endian \
                checkpoints are read (load and re-save the file on a little-endian machine)
                """
        case .bigEndian(_, nil):
            return """
                sys_info says little_endian=False: the storages were written on a big-endian machine; only \
                little-endian checkpoints are read (load and re-save the file on a little-endian machine)
                """
        case .unsupportedLegacyVersion: return "legacy torch.save file with an unknown protocol version"
        case .corruptArchive(_, let reason): return reason.escapedForTerminal
        case .encryptedEntry(_, let entry): return "zip entry '\(entry.escapedForTerminal)' is encrypted"
        case .compressedEntry(_, let entry, let method):
            let kind = method == 8 ? "deflate" : "method \(method)"
            return """
                zip entry '\(entry.escapedForTerminal)' is compressed (\(kind)); torch.save writes entries \
                uncompressed \
                (stored): the file was re-packed by another tool, re-save it with torch.save or re-zip it without \
                compression (zip -0)
                """
        case .entryRangeOutOfBounds(_, let entry, let lower, let upper, let size):
            return "zip entry '\(entry.escapedForTerminal)': bytes \(lower)..<\(upper) requested, the entry has \(size)"
        case .entryTooLarge(_, let entry, let size):
            return "zip entry '\(entry.escapedForTerminal)' is too large (\(size) bytes)"
        case .zipPickle(_, let entry, let offset, let opcode, let reason):
            return "\(entry.escapedForTerminal) byte \(offset) (\(opcode)): \(reason.escapedForTerminal)"
        case .legacyPickle(_, let stage, let offset, let opcode, let reason):
            return "legacy format, \(stage) pickle, byte \(offset) (\(opcode)): \(reason.escapedForTerminal)"
        case .badLegacyLayout(_, let reason): return "legacy format: \(reason.escapedForTerminal)"
        case .storageCountTooLarge(let file, let storage, let count):
            return """
                storage '\(storage.escapedForTerminal)' of \(URL(fileURLWithPath: file).lastPathComponent): \
                element count \(count) is \
                more than the whole file holds
                """
        case .missingStorage(_, let storage, let entry?):
            return "storage '\(storage.escapedForTerminal)': no zip entry '\(entry.escapedForTerminal)'"
        case .missingStorage(_, let storage, nil):
            return "storage '\(storage.escapedForTerminal)' is not in the file's list of storages"
        case .storageTooSmall(let file, let storage, let expected, let numel, let dtype, let found):
            return """
                storage '\(storage.escapedForTerminal)' of \(URL(fileURLWithPath: file).lastPathComponent): expected \
                \(expected) bytes (\(numel) × \(dtype)), found \(found)
                """
        case .dimensionTooLarge(_, let key, let shape, let limit):
            return "tensor '\(key.escapedForTerminal)': size \(shape) has a dimension above \(limit)"
        case .viewExpandsStorage(_, let key, let shape, let strides, let elements, let storage, let numel, let limit):
            return """
                tensor '\(key.escapedForTerminal)': view \(shape) with stride \(strides) has \(elements) elements \
                over storage '\(storage.escapedForTerminal)' of \(numel); at most \(limit) are accepted (\
                \(TorchViewLimits.maxExpansion)× the storage, or \(TorchViewLimits.minimumAllowance))
                """
        case .shardOutsideFolder(_, let key, let shard):
            return """
                index maps '\(key.escapedForTerminal)' to '\(shard.escapedForTerminal)', which is outside the \
                index's folder (expected a file name inside it)
                """
        case .viewOutOfStorage(_, let key, let shape, let strides, let offset, let reach, let storage, let numel):
            return """
                tensor '\(key.escapedForTerminal)': view \(shape) with stride \(strides) at offset \(offset) reaches \
                element \(reach) \
                of storage '\(storage.escapedForTerminal)', which has \(numel)
                """
        case .missingTensor(_, let key, let count):
            return "no tensor '\(key.escapedForTerminal)'" + (count.map { " (the file has \($0) tensors)" } ?? "")
        case .notASingleTensor(_, let keys):
            return "expected one tensor (torch.save(tensor)), found the keys \(keys.map(\.escapedForTerminal))"
        case .stateDictKeyThroughNonDict(_, let key, let component, let found):
            return "entry '\(key.escapedForTerminal)': '\(component.escapedForTerminal)' is inside \(found), not a dict"
        case .stateDictKeyMissing(_, let key, let component, let available):
            return
                """
                no entry '\(component.escapedForTerminal)' (of '\(key.escapedForTerminal)'); the dict has \
                \(available.escapedForTerminal)
                """
        case .notAStateDict(_, let found): return "the file holds \(found), not a state dict (a dict of tensors)"
        case .nestedTooDeep(_, let entry):
            return "entry '\(entry.escapedForTerminal)': containers nested more than 64 deep"
        case .duplicateKey(_, let key):
            return "key '\(key.escapedForTerminal)' appears twice after flattening nested dicts"
        case .noWeightMap: return "no 'weight_map' object"
        case .indexMismatch(_, let key, let shard):
            return "index maps '\(key.escapedForTerminal)' to \(shard.escapedForTerminal), which does not contain it"
        case .ambiguousFolder(_, let files):
            return "no safetensors file, and several PyTorch files (\(files.joined(separator: ", "))): name one"
        }
    }

    public var description: String { "\(file.escapedForTerminal): \(message)" }
}
