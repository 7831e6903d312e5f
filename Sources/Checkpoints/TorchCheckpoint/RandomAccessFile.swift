import Foundation

/// A file read at offsets, a range at a time, so a multi-gigabyte checkpoint is never held in memory whole.
/// Reads are serialised (one file handle, one position).
final class RandomAccessFile: @unchecked Sendable {
    let url: URL
    let size: UInt64
    private let handle: FileHandle
    private let lock = NSLock()

    init(url: URL) throws {
        self.url = url
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw TorchCheckpointError.missingFile(file: url.path)
        }
        do {
            handle = try FileHandle(forReadingFrom: url)
            size = try handle.seekToEnd()
        } catch {
            throw TorchCheckpointError.unreadable(file: url.path, reason: error.localizedDescription)
        }
    }

    deinit { try? handle.close() }

    /// Exactly `count` bytes at `offset`; a short read is an error naming `what`.
    func read(at offset: UInt64, count: Int, what: @autoclosure () -> String) throws -> Data {
        guard count > 0 else { return Data() }
        guard offset <= size, UInt64(count) <= size - offset else {
            let available = offset <= size ? size - offset : 0
            throw TorchCheckpointError.truncated(
                file: url.path, what: what(), needed: count, offset: offset, available: available)
        }
        lock.lock()
        defer { lock.unlock() }
        let data: Data
        do {
            try handle.seek(toOffset: offset)
            data = try handle.read(upToCount: count) ?? Data()
        } catch {
            throw TorchCheckpointError.readFailed(file: url.path, what: what(), reason: error.localizedDescription)
        }
        guard data.count == count else {
            throw TorchCheckpointError.shortRead(file: url.path, what: what(), read: data.count, expected: count)
        }
        return data
    }
}

extension Data {
    /// Little-endian unsigned integer of `width` bytes at `offset` (relative to `startIndex`).
    func littleEndian(at offset: Int, width: Int) -> UInt64 {
        var value: UInt64 = 0
        for i in (0..<width).reversed() { value = value << 8 | UInt64(self[startIndex + offset + i]) }
        return value
    }
}
