import Foundation

// The zip container of `torch.save` (PyTorch ≥ 1.6): entries `<top>/data.pkl`, `<top>/data/<storage key>`,
// `<top>/byteorder`, `<top>/version`, all STORED (no compression) and 64-byte aligned through padding in the local
// headers' extra fields, with zip64 records once the archive passes 4 GiB. Only the central directory is read on
// opening; an entry's bytes are read when asked for, a range at a time.
// Format reference: PKWARE APPNOTE.TXT 6.3.10, sections 4.3.7 (local header), 4.3.12 (central directory),
// 4.3.14–4.3.16 (zip64 end records and end of central directory), 4.5.3 (zip64 extra field).

/// One file of a zip archive, as its central directory describes it.
struct ZipEntry: Sendable {
    let name: String
    /// 0: stored, 8: deflate, …
    let method: UInt16
    let flags: UInt16
    let compressedSize: UInt64
    let uncompressedSize: UInt64
    let localHeaderOffset: UInt64
}

/// The central directory of a zip file, and ranged reads of its stored entries.
struct ZipArchive: Sendable {
    let file: RandomAccessFile
    /// Entries in central-directory order.
    let entries: [ZipEntry]
    private let byName: [String: Int]

    private static let endOfCentralDirectory: UInt32 = 0x0605_4b50
    private static let zip64Locator: UInt32 = 0x0706_4b50
    private static let zip64EndOfCentralDirectory: UInt32 = 0x0606_4b50
    private static let centralHeader: UInt32 = 0x0201_4b50
    private static let localHeader: UInt32 = 0x0403_4b50

    init(file: RandomAccessFile) throws {
        self.file = file
        let path = file.url.path
        func corrupt(_ reason: String) -> TorchCheckpointError { .corruptArchive(file: path, reason: reason) }

        // The end-of-central-directory record is the last 22 bytes, unless a comment (≤ 65535 bytes) follows it.
        let tailLength = Int(min(file.size, 22 + 65_535))
        let tail = try file.read(at: file.size - UInt64(tailLength), count: tailLength, what: "the zip directory")
        guard tailLength >= 22,
            let eocd = stride(from: tailLength - 22, through: 0, by: -1).first(where: {
                tail.littleEndian(at: $0, width: 4) == UInt64(Self.endOfCentralDirectory)
            })
        else { throw corrupt("not a zip archive or truncated: no end-of-central-directory record") }
        let eocdOffset = file.size - UInt64(tailLength) + UInt64(eocd)
        var entryCount = tail.littleEndian(at: eocd + 10, width: 2)
        var directorySize = tail.littleEndian(at: eocd + 12, width: 4)
        var directoryOffset = tail.littleEndian(at: eocd + 16, width: 4)

        // zip64: a locator just before the end record points at the zip64 end record, whose fields replace the
        // saturated (0xFFFF, 0xFFFFFFFF) 16- and 32-bit ones.
        if eocdOffset >= 20 {
            let locator = try file.read(at: eocdOffset - 20, count: 20, what: "the zip64 locator")
            if locator.littleEndian(at: 0, width: 4) == UInt64(Self.zip64Locator) {
                let recordOffset = locator.littleEndian(at: 8, width: 8)
                let record = try file.read(
                    at: recordOffset, count: 56, what: "the zip64 end-of-central-directory record")
                guard record.littleEndian(at: 0, width: 4) == UInt64(Self.zip64EndOfCentralDirectory) else {
                    throw corrupt(
                        """
                        zip64 locator points at offset \(recordOffset), which holds no zip64 end-of-central-directory \
                        record
                        """
                    )
                }
                entryCount = record.littleEndian(at: 32, width: 8)
                directorySize = record.littleEndian(at: 40, width: 8)
                directoryOffset = record.littleEndian(at: 48, width: 8)
            }
        }
        guard directoryOffset <= eocdOffset, directorySize <= eocdOffset - directoryOffset,
            directorySize < UInt64(Int.max)
        else {
            throw corrupt(
                "corrupt zip: central directory (\(directorySize) bytes at \(directoryOffset)) lies outside the file")
        }
        let directory = try file.read(at: directoryOffset, count: Int(directorySize), what: "the zip central directory")

        var entries: [ZipEntry] = []
        var byName: [String: Int] = [:]
        var at = 0
        for index in 0..<entryCount {
            guard at + 46 <= directory.count, directory.littleEndian(at: at, width: 4) == UInt64(Self.centralHeader)
            else {
                throw corrupt("corrupt zip: central directory entry \(index) of \(entryCount) is missing or malformed")
            }
            let flags = UInt16(directory.littleEndian(at: at + 8, width: 2))
            let method = UInt16(directory.littleEndian(at: at + 10, width: 2))
            var compressed = directory.littleEndian(at: at + 20, width: 4)
            var uncompressed = directory.littleEndian(at: at + 24, width: 4)
            let nameLength = Int(directory.littleEndian(at: at + 28, width: 2))
            let extraLength = Int(directory.littleEndian(at: at + 30, width: 2))
            let commentLength = Int(directory.littleEndian(at: at + 32, width: 2))
            var localOffset = directory.littleEndian(at: at + 42, width: 4)
            let nameStart = at + 46
            guard nameStart + nameLength + extraLength + commentLength <= directory.count else {
                throw corrupt("corrupt zip: central directory entry \(index) runs past the directory")
            }
            let nameBytes = directory[
                (directory.startIndex + nameStart)..<(directory.startIndex + nameStart + nameLength)]
            let name = String(decoding: nameBytes, as: UTF8.self)
            // zip64 extended information: 8-byte values for exactly the fields saturated above, in this order.
            var extra = nameStart + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let id = directory.littleEndian(at: extra, width: 2)
                let size = Int(directory.littleEndian(at: extra + 2, width: 2))
                if id == 0x0001 {
                    var field = extra + 4
                    func next() throws -> UInt64 {
                        guard field + 8 <= min(extra + 4 + size, extraEnd) else {
                            throw corrupt("corrupt zip: entry '\(name)' has a short zip64 extra field")
                        }
                        defer { field += 8 }
                        return directory.littleEndian(at: field, width: 8)
                    }
                    if uncompressed == 0xFFFF_FFFF { uncompressed = try next() }
                    if compressed == 0xFFFF_FFFF { compressed = try next() }
                    if localOffset == 0xFFFF_FFFF { localOffset = try next() }
                }
                extra += 4 + size
            }
            byName[name] = entries.count
            entries.append(
                ZipEntry(
                    name: name, method: method, flags: flags, compressedSize: compressed,
                    uncompressedSize: uncompressed, localHeaderOffset: localOffset))
            at = extraEnd + commentLength
        }
        self.entries = entries
        self.byName = byName
    }

    func entry(_ name: String) -> ZipEntry? { byName[name].map { entries[$0] } }

    /// Where the entry's bytes lie in the file; only STORED, unencrypted entries can be read in place.
    func dataOffset(of entry: ZipEntry) throws -> UInt64 {
        let path = file.url.path
        guard entry.flags & 1 == 0 else {
            throw TorchCheckpointError.encryptedEntry(file: path, entry: entry.name)
        }
        guard entry.method == 0 else {
            throw TorchCheckpointError.compressedEntry(file: path, entry: entry.name, method: entry.method)
        }
        // Stored bytes are the entry's bytes: a larger uncompressed size would read past the entry into the next.
        guard entry.compressedSize == entry.uncompressedSize else {
            throw TorchCheckpointError.corruptArchive(
                file: path,
                reason: """
                    corrupt zip: stored entry '\(entry.name)' has \(entry.compressedSize) bytes but claims \
                    \(entry.uncompressedSize) uncompressed
                    """)
        }
        // The local header's extra field may differ from the central directory's (torch pads it for alignment).
        let header = try file.read(
            at: entry.localHeaderOffset, count: 30, what: "the local header of zip entry '\(entry.name)'")
        guard header.littleEndian(at: 0, width: 4) == UInt64(Self.localHeader) else {
            throw TorchCheckpointError.corruptArchive(
                file: path,
                reason: "corrupt zip: no local header for entry '\(entry.name)' at offset \(entry.localHeaderOffset)")
        }
        let nameLength = header.littleEndian(at: 26, width: 2)
        let extraLength = header.littleEndian(at: 28, width: 2)
        return entry.localHeaderOffset + 30 + nameLength + extraLength
    }

    /// `count` bytes of the (stored) entry from byte `offset` of its data.
    func read(_ entry: ZipEntry, offset: UInt64 = 0, count: Int) throws -> Data {
        guard offset + UInt64(count) <= entry.uncompressedSize else {
            throw TorchCheckpointError.entryRangeOutOfBounds(
                file: file.url.path, entry: entry.name, lower: offset, upper: offset + UInt64(count),
                size: entry.uncompressedSize)
        }
        return try file.read(at: try dataOffset(of: entry) + offset, count: count, what: "zip entry '\(entry.name)'")
    }

    /// The whole (stored) entry.
    func read(_ entry: ZipEntry) throws -> Data {
        guard entry.uncompressedSize < UInt64(Int.max) else {
            throw TorchCheckpointError.entryTooLarge(
                file: file.url.path, entry: entry.name, size: entry.uncompressedSize)
        }
        return try read(entry, count: Int(entry.uncompressedSize))
    }
}
