import Checkpoints
import Foundation
import TrainingLogs

/// A checkpoint's `manifest.json`: every other file of the folder with its size and CRC-32C, written last (and
/// atomically) so that a checkpoint with a manifest that matches its files is complete and unchanged since.
public struct CheckpointManifest: Codable, Equatable {
    public struct Entry: Codable, Equatable {
        public var path: String
        public var size: Int
        public var crc32c: UInt32
    }

    public static let fileName = "manifest.json"
    public var files: [Entry]

    /// Lists every file under `folder` (sorted paths) and writes the manifest into it.
    @discardableResult
    public static func write(for folder: URL) throws -> CheckpointManifest {
        let manifest = CheckpointManifest(
            files: try files(in: folder).map { path in
                let (size, crc) = try measure(folder.appendingPathComponent(path))
                return Entry(path: path, size: size, crc32c: crc)
            })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(manifest), to: folder.appendingPathComponent(fileName))
        return manifest
    }

    /// Checks that `folder` holds exactly the manifest's files with their sizes and checksums; throws
    /// `CheckpointIntegrityError` naming the first problem.
    public static func verify(_ folder: URL) throws {
        let url = folder.appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw CheckpointIntegrityError.noManifest(folder: folder.path)
        }
        let manifest: CheckpointManifest
        do { manifest = try JSONDecoder().decode(CheckpointManifest.self, from: Data(contentsOf: url)) } catch {
            throw CheckpointIntegrityError.unreadableManifest(file: url.path, reason: "\(error)")
        }
        let present = Set(try files(in: folder))
        for entry in manifest.files {
            let file = folder.appendingPathComponent(entry.path)
            guard present.contains(entry.path) else { throw CheckpointIntegrityError.missing(file: file.path) }
            let (size, crc) = try measure(file)
            guard size == entry.size else {
                throw CheckpointIntegrityError.wrongSize(file: file.path, expected: entry.size, found: size)
            }
            guard crc == entry.crc32c else { throw CheckpointIntegrityError.wrongChecksum(file: file.path) }
        }
        if let extra = present.subtracting(manifest.files.map(\.path)).sorted().first {
            throw CheckpointIntegrityError.unlisted(file: folder.appendingPathComponent(extra).path)
        }
    }

    /// `verify`, except that a checkpoint written before manifests (a `trainer_state.json`, no manifest) passes with
    /// the warning returned: checkpoints were renamed into place whole then too, but their bytes cannot be checked.
    public static func verifyAllowingUnlisted(_ folder: URL) throws -> String? {
        do { try verify(folder) } catch CheckpointIntegrityError.noManifest(let path) {
            guard FileManager.default.fileExists(atPath: folder.appendingPathComponent("trainer_state.json").path)
            else { throw CheckpointIntegrityError.noManifest(folder: path) }
            return
                "\(folder.lastPathComponent) has no \(fileName) (written before manifests): its files are not checked"
        }
        return nil
    }

    /// Relative paths of the regular files under `folder`, the manifest excluded, sorted.
    static func files(in folder: URL) throws -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: folder.path) else {
            throw CheckpointIntegrityError.missing(file: folder.path)
        }
        var paths: [String] = []
        while let path = enumerator.nextObject() as? String {
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: folder.appendingPathComponent(path).path, isDirectory: &isFolder),
                !isFolder.boolValue, path != fileName
            {
                paths.append(path)
            }
        }
        return paths.sorted()
    }

    /// Size and CRC-32C of a file, read in 4 MiB chunks.
    static func measure(_ file: URL) throws -> (size: Int, crc: UInt32) {
        let handle = try FileHandle(forReadingFrom: file)
        defer { try? handle.close() }
        var size = 0, crc: UInt32 = 0
        while let chunk = try handle.read(upToCount: 1 << 22), !chunk.isEmpty {
            size += chunk.count
            crc = CRC32C.checksum(chunk, continuing: crc)
        }
        return (size, crc)
    }
}

/// Why a checkpoint folder is not the complete checkpoint its manifest describes.
public enum CheckpointIntegrityError: Error, CustomStringConvertible, Equatable {
    case noManifest(folder: String)
    case unreadableManifest(file: String, reason: String)
    case missing(file: String)
    case wrongSize(file: String, expected: Int, found: Int)
    case wrongChecksum(file: String)
    case unlisted(file: String)

    public var description: String {
        switch self {
        case .noManifest(let folder):
            return
                "\(folder): no \(CheckpointManifest.fileName) (an incomplete checkpoint, or one from before manifests)"
        case .unreadableManifest(let file, let reason): return "\(file): unreadable manifest (\(reason))"
        case .missing(let file): return "\(file): missing"
        case .wrongSize(let file, let expected, let found):
            return "\(file): \(found) bytes, the manifest says \(expected) (truncated or rewritten)"
        case .wrongChecksum(let file): return "\(file): its CRC-32C differs from the manifest's (the bytes changed)"
        case .unlisted(let file): return "\(file): not in the checkpoint's manifest"
        }
    }
}
