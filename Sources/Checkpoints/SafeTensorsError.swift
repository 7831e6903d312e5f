import Foundation

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
    /// The header length is above the format's limit (`limit` bytes), before any of it is read.
    case headerTooLarge(file: String, headerLength: UInt64, limit: Int)
    /// A dimension of a tensor's shape is above what the engine can index (`limit`: 2^31 − 1).
    case dimensionTooLarge(file: String, key: String, shape: [Int], limit: Int)
    /// A tensor's element count or byte size does not fit a 64-bit integer.
    case sizeOverflow(file: String, key: String, dtype: String, shape: [Int])
    /// Tensors' byte ranges must follow each other without gap or overlap (safetensors' own rule): `key` starts at
    /// `found`, where the previous tensor (`previous`, nil for the first) ends at `expected`.
    case offsetsNotContiguous(file: String, key: String, previous: String?, expected: Int, found: Int)
    /// The tensors cover `covered` bytes of a data section of `dataSize` (bytes after the last tensor).
    case dataSectionNotCovered(file: String, covered: Int, dataSize: Int)
    /// An index names a shard outside its folder (an absolute path, `..`, or a symbolic link leading out).
    case shardOutsideFolder(file: String, key: String, shard: String)
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
    /// A streamed write was handed a tensor other than the next one its header lists (or too few).
    case streamOutOfOrder(file: String, expected: String, found: String)

    /// The file or folder the problem is in.
    public var file: String {
        switch self {
        case .missingFile(let file), .unreadable(let file, _), .tooShort(let file, _),
            .headerLengthExceedsFile(let file, _, _), .badHeader(let file, _), .badEntry(let file, _, _),
            .dtypeUnsupported(let file, _, _), .sizeMismatch(let file, _, _, _, _, _),
            .tensorPastEnd(let file, _, _, _), .headerTooLarge(let file, _, _), .dimensionTooLarge(let file, _, _, _),
            .sizeOverflow(let file, _, _, _), .offsetsNotContiguous(let file, _, _, _, _),
            .dataSectionNotCovered(let file, _, _), .shardOutsideFolder(let file, _, _),
            .missingTensor(let file, _, _), .readFailed(let file, _, _), .truncated(let file, _, _, _),
            .noWeightMap(let file), .indexMismatch(let file, _, _), .duplicateKey(let file, _, _, _),
            .unexpectedKeys(let file, _, _), .streamOutOfOrder(let file, _, _):
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
        case .badEntry(_, let key, let reason): return "tensor '\(key.escapedForTerminal)': \(reason)"
        case .dtypeUnsupported(_, let key, let dtype):
            return "tensor '\(key.escapedForTerminal)': unsupported dtype \(dtype.escapedForTerminal)"
        case .sizeMismatch(_, let key, let dtype, let shape, let expected, let found):
            return """
                tensor '\(key.escapedForTerminal)': \(dtype.escapedForTerminal) \(shape) needs \(expected) bytes, \
                the header gives \(found)
                """
        case .tensorPastEnd(_, let key, let end, let dataSize):
            return """
                truncated: tensor '\(key.escapedForTerminal)' ends at byte \(end) of the data section, which has \
                \(dataSize)
                """
        case .headerTooLarge(_, let headerLength, let limit):
            return "header length \(headerLength) is above the format's limit of \(limit) bytes"
        case .dimensionTooLarge(_, let key, let shape, let limit):
            return "tensor '\(key.escapedForTerminal)': shape \(shape) has a dimension above \(limit)"
        case .sizeOverflow(_, let key, let dtype, let shape):
            return """
                tensor '\(key.escapedForTerminal)': \(dtype.escapedForTerminal) \(shape) has more elements or bytes \
                than a 64-bit size holds
                """
        case .offsetsNotContiguous(_, let key, let previous?, let expected, let found):
            return """
                tensor '\(key.escapedForTerminal)' starts at byte \(found) of the data section, expected \(expected) \
                where '\(previous.escapedForTerminal)' ends (tensors must follow each other without gap or overlap)
                """
        case .offsetsNotContiguous(_, let key, nil, let expected, let found):
            return """
                tensor '\(key.escapedForTerminal)' starts at byte \(found) of the data section, expected \(expected) \
                (the first tensor starts the data section)
                """
        case .dataSectionNotCovered(_, let covered, let dataSize):
            return """
                the tensors cover \(covered) bytes of the data section, which has \(dataSize) (expected them to cover \
                it exactly)
                """
        case .shardOutsideFolder(_, let key, let shard):
            return """
                index maps '\(key.escapedForTerminal)' to '\(shard.escapedForTerminal)', which is outside the \
                index's folder (expected a file name inside it)
                """
        case .missingTensor(_, let key, let count):
            return "no tensor '\(key.escapedForTerminal)'" + (count.map { " (the file has \($0) tensors)" } ?? "")
        case .readFailed(_, let key, let reason): return "tensor '\(key.escapedForTerminal)': read failed: \(reason)"
        case .truncated(_, let key, let needed, let available):
            return "truncated: tensor '\(key.escapedForTerminal)' has \(available) of its \(needed) bytes"
        case .streamOutOfOrder(_, let expected, let found):
            return "streamed write: expected \(expected.escapedForTerminal) next, got \(found.escapedForTerminal)"
        case .noWeightMap: return "no 'weight_map' object (of shard file names)"
        case .indexMismatch(_, let key, let shard):
            return "index maps '\(key.escapedForTerminal)' to \(shard.escapedForTerminal), which does not contain it"
        case .duplicateKey(_, let key, let first, let second):
            return """
                key '\(key.escapedForTerminal)' appears in both \(first.escapedForTerminal) and \
                \(second.escapedForTerminal)
                """
        case .unexpectedKeys(_, let expected, let found):
            return "expected a tensor '\(expected.escapedForTerminal)', found \(found.map(\.escapedForTerminal))"
        }
    }

    public var description: String { "\(file.escapedForTerminal): \(message)" }
}
