import ArgumentParser
import Checkpoints
import Foundation
import Training

/// How the command line prints an error that ends a command.
enum TopLevelError {
    /// The message of an error from the work itself, or nil for ArgumentParser's own exits (help, clean exits, exit
    /// codes and parse errors), which it prints itself.
    static func message(_ error: Error) -> String? {
        if error is CleanExit || error is ExitCode { return nil }
        // ArgumentParser's parse errors are internal types of its module; it alone knows their usage text.
        if String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") { return nil }
        if let (path, reason) = FileSystemFailure.explain(error) {
            return path.map { "\($0): \(reason)" } ?? reason
        }
        // Every error converts to CustomStringConvertible here, so its description is what the user reads.
        return String(describing: error)
    }

    /// Every line escaped for the terminal: the line breaks the command composes (lists of problems) stay, while
    /// control characters, escape sequences and carriage returns from file contents are shown as escapes.
    static func escaped(_ message: String) -> String {
        message.split(separator: "\n", omittingEmptySubsequences: false).map { String($0).escapedForTerminal }
            .joined(separator: "\n")
    }
}
