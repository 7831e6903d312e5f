// Reading the files a tokenizer folder holds, with errors that name the file.
import Foundation

enum TokenizerFiles {
    static func bytes(_ url: URL) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw TokenizerError.missingFile(path: url.path)
        }
        return [UInt8](data)
    }

    static func text(_ url: URL) throws -> String {
        try utf8(bytes(url), path: url.path)
    }

    static func utf8(_ bytes: [UInt8], path: String) throws -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw TokenizerError.invalidFile(path: path, reason: "not valid UTF-8 text")
        }
        return text
    }

    /// A JSON document whose top level is an object.
    static func jsonObject(_ url: URL) throws -> [String: Any] {
        let data = Data(try bytes(url))
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw TokenizerError.invalidFile(path: url.path, reason: "not valid JSON (\(error.localizedDescription))")
        }
        guard let dictionary = object as? [String: Any] else {
            throw TokenizerError.invalidFile(path: url.path, reason: "expected a JSON object at the top level")
        }
        return dictionary
    }

    /// Like `jsonObject`, but nil when the file does not exist (optional configuration files).
    static func optionalJSONObject(_ url: URL) throws -> [String: Any]? {
        FileManager.default.fileExists(atPath: url.path) ? try jsonObject(url) : nil
    }

    /// A special-token entry of a transformers config: either a plain string or `{"content": "…", …}`.
    static func tokenContent(_ value: Any?) -> String? {
        if let string = value as? String { return string }
        if let object = value as? [String: Any] { return object["content"] as? String }
        return nil
    }

    /// JSON numbers arrive as NSNumber; this accepts integral values only.
    /// Ids a tokenizer file may hold: the engine takes token ids as int32.
    static let tokenIDs = 0...Int(Int32.max)

    static func integer(_ value: Any?) -> Int? {
        if let number = value as? NSNumber, let int = Int(exactly: number.doubleValue) { return int }
        return nil
    }
}
