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
        // open(2) rather than FileManager.createFile, whose false says nothing of why: a full disk, a read-only
        // volume and a missing permission must reach the user as themselves.
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard descriptor >= 0 else { throw systemError(path: temporary.path) }
        close(descriptor)
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
            guard rename(temporary.path, url.path) == 0 else { throw systemError(path: url.path) }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
    }

    /// The failed system call's errno as Foundation's file error, so callers read the path and the reason from it.
    private static func systemError(path: String) -> CocoaError {
        let code = POSIXErrorCode(rawValue: errno) ?? .EIO
        return CocoaError(
            .fileWriteUnknown, userInfo: [NSFilePathErrorKey: path, NSUnderlyingErrorKey: POSIXError(code)])
    }

    /// Writes `data` atomically.
    public static func write(_ data: Data, to url: URL) throws {
        try write(to: url) { try $0.write(contentsOf: data) }
    }
}
