// Loaders of downloaded folders take defaults for settings a file leaves out (a mean, a crop size, a maximum length);
// a wrong default changes results without an error, so each one is said. The Tokenizers target is the lowest one that
// reads such files without the engine, so the reward and model loaders report here too.
import Foundation

/// A setting a loader did not find and replaced by its default.
public struct LoadWarning: Sendable, Equatable, CustomStringConvertible {
    public let file: String
    public let key: String
    /// The default, as it would be written in the file.
    public let value: String
    /// Why the file's own value was not used, when it had one.
    public let reason: String?

    public var description: String {
        "\(file): \(key) " + (reason.map { "not used (\($0))" } ?? "missing") + "; using the default \(value)"
    }
}

/// Where loaders send ``LoadWarning``s: by default a `warning:` line on standard error. A program can route them
/// elsewhere with ``route(_:)``; tests collect them with ``collecting(_:)``.
public enum LoadWarnings {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var handler: @Sendable (LoadWarning) -> Void = { warning in
        FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
    }

    /// Reports that `key` of `file` was missing (or unusable, with `reason`) and `value` was taken instead.
    public static func defaultTaken(file: String, key: String, value: String, reason: String? = nil) {
        let warning = LoadWarning(file: file, key: key, value: value, reason: reason)
        lock.lock()
        let handler = handler
        lock.unlock()
        handler(warning)
    }

    /// Sends every later warning to `handler` instead of standard error.
    public static func route(_ newHandler: @escaping @Sendable (LoadWarning) -> Void) {
        lock.lock()
        defer { lock.unlock() }
        handler = newHandler
    }

    /// Runs `body` and returns the warnings reported meanwhile (by any thread) with its result; they are not written.
    public static func collecting<R>(_ body: () throws -> R) rethrows -> (result: R, warnings: [LoadWarning]) {
        let box = CollectedWarnings()
        lock.lock()
        let previous = handler
        handler = { warning in
            box.lock.lock()
            box.warnings.append(warning)
            box.lock.unlock()
        }
        lock.unlock()
        defer { route(previous) }
        let result = try body()
        box.lock.lock()
        defer { box.lock.unlock() }
        return (result, box.warnings)
    }
}

/// The warnings of one ``LoadWarnings/collecting(_:)`` call, appended from any thread.
private final class CollectedWarnings: @unchecked Sendable {
    let lock = NSLock()
    var warnings: [LoadWarning] = []
}
