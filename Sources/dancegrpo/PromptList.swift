import ArgumentParser
import Foundation

/// Prompts from the command line and prompt files: one prompt per line, surrounding whitespace trimmed, blank lines
/// skipped, any UTF-8 text kept as is (long prompts are truncated by the tokenizers, not here).
enum PromptList {
    static func load(prompts: [String], file: String?) throws -> [String] {
        var all = prompts
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ValidationError("\(file): cannot read the prompt file")
            }
            guard let text = String(data: data, encoding: .utf8) else {
                throw ValidationError("\(file): not UTF-8 text (a prompt file has one prompt per line)")
            }
            all += text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
                .map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }
        }
        return all
    }

    /// A short file-name-safe form of a prompt.
    static func slug(_ prompt: String, limit: Int = 40) -> String {
        let kept = prompt.lowercased().unicodeScalars.map {
            CharacterSet.alphanumerics.contains($0) && $0.isASCII ? Character($0) : "-"
        }
        let collapsed = String(kept).split(separator: "-").joined(separator: "-")
        return collapsed.isEmpty ? "prompt" : String(collapsed.prefix(limit))
    }
}
