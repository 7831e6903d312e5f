import Foundation

/// A file-system operation of the run that failed (a full disk, a read-only or unwritable folder), with the path and
/// the system's reason in words instead of Foundation's raw error dump.
public struct FileSystemFailure: Error, CustomStringConvertible, Equatable {
    /// What was being done ("write checkpoint", "create the run folder").
    public var action: String
    public var path: String
    public var reason: String

    public init(action: String, path: String, reason: String) {
        self.action = action
        self.path = path
        self.reason = reason
    }

    public var description: String { "cannot \(action) \(path): \(reason)" }

    /// Runs `body`, turning a Foundation file error into a `FileSystemFailure` naming `path` (or the path the error
    /// names) with its reason; other errors pass through.
    public static func wrapping<T>(_ action: String, path: URL, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as FileSystemFailure { throw error } catch {
            guard let (errorPath, reason) = FileSystemFailure.explain(error) else { throw error }
            throw FileSystemFailure(action: action, path: errorPath ?? path.path, reason: reason)
        }
    }

    /// The path and the reason of a Foundation or POSIX file error, or nil for other errors.
    public static func explain(_ error: Error) -> (path: String?, reason: String)? {
        if let posix = error as? POSIXError { return (nil, String(cString: strerror(posix.code.rawValue))) }
        guard let cocoa = error as? CocoaError else { return nil }
        let path = cocoa.filePath ?? cocoa.url?.path
        if let underlying = cocoa.underlying as? POSIXError {
            return (path, String(cString: strerror(underlying.code.rawValue)))
        }
        if let underlying = cocoa.underlying, (underlying as NSError).domain == NSPOSIXErrorDomain {
            return (path, String(cString: strerror(Int32((underlying as NSError).code))))
        }
        switch cocoa.code {
        case .fileWriteOutOfSpace: return (path, "no space left on the device")
        case .fileWriteNoPermission, .fileReadNoPermission: return (path, "permission denied")
        case .fileWriteVolumeReadOnly: return (path, "the volume is read-only")
        case .fileNoSuchFile, .fileReadNoSuchFile: return (path, "no such file or folder")
        case .fileWriteFileExists: return (path, "a file of that name exists")
        default: return (path, "file error \(cocoa.code.rawValue)")
        }
    }
}
