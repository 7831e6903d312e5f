import Foundation

/// Reading the `config.json` files of checkpoint folders (diffusers, transformers). Errors name the file and, for a
/// decoding failure, the key path and what was expected.
public enum ConfigFile {
    public struct Error: Swift.Error, CustomStringConvertible, Sendable {
        public let file: String
        public let message: String
        public var description: String { "\(file): \(message)" }
        public init(file: String, message: String) {
            self.file = file
            self.message = message
        }
    }

    /// Decodes `url` into `T` (use `CodingKeys` with the file's snake_case names).
    public static func decode<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
        let data = try read(url)
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw Error(file: url.path, message: "missing key '\(path(context.codingPath + [key]))'")
        } catch let DecodingError.typeMismatch(expected, context) {
            throw Error(
                file: url.path,
                message: "key '\(path(context.codingPath))': expected \(expected); \(context.debugDescription)")
        } catch let DecodingError.valueNotFound(expected, context) {
            throw Error(file: url.path, message: "key '\(path(context.codingPath))': expected \(expected), found null")
        } catch let DecodingError.dataCorrupted(context) {
            throw Error(
                file: url.path, message: "invalid JSON at '\(path(context.codingPath))': \(context.debugDescription)")
        }
    }

    /// The file as a JSON object, for configs read loosely.
    public static func object(from url: URL) throws -> [String: Any] {
        let data = try read(url)
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw Error(file: url.path, message: "not a JSON object")
        }
        return object
    }

    private static func read(_ url: URL) throws -> Data {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw Error(file: url.path, message: "file not found")
        }
        do { return try Data(contentsOf: url) } catch {
            throw Error(file: url.path, message: "unreadable: \(error.localizedDescription)")
        }
    }

    private static func path(_ keys: [CodingKey]) -> String {
        keys.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
    }
}
