import Foundation

/// Writes files so that a reader (or a crash) never sees a half-written one: the bytes go to a temporary file in
/// the same folder, which is flushed and then renamed over the destination. Training checkpoints, adapters and
/// caches all go through here.
public enum AtomicFile {
    /// Streams the file's content through `body`, then moves it into place. On any error the temporary file is
    /// removed and the destination is left as it was.
    public static func write(to url: URL, _ body: (FileHandle) throws -> Void) throws {
        let folder = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let temporary = folder.appendingPathComponent(
            """
            .\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)-\
            \(UInt32.random(in: 0...UInt32.max))
            """
        )
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: temporary.path])
        }
        do {
            let handle = try FileHandle(forWritingTo: temporary)
            do {
                try body(handle)
                try handle.synchronize()
                try handle.close()
            } catch {
                try? handle.close()
                throw error
            }
            // rename(2) replaces the destination atomically on POSIX file systems.
            guard rename(temporary.path, url.path) == 0 else {
                throw CocoaError(
                    .fileWriteUnknown,
                    userInfo: [
                        NSFilePathErrorKey: url.path,
                        NSLocalizedDescriptionKey:
                            """
                        could not move \(temporary.lastPathComponent) to \(url.path): \
                        \(String(cString: strerror(errno)))
                        """
                    ])
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
    }

    /// Writes `data` atomically.
    public static func write(_ data: Data, to url: URL) throws {
        try write(to: url) { try $0.write(contentsOf: data) }
    }
}
