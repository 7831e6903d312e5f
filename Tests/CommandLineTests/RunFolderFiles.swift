import Foundation
import XCTest

/// Reading a run folder's files in command-line tests, which see the program only from outside.
enum RunFolderFiles {
    static func temporaryRoot(_ name: String) throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent(
            "dancegrpo-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        return root
    }

    /// Every regular file under `folder` by relative path, with its bytes.
    static func contents(of folder: URL) throws -> [String: Data] {
        var result: [String: Data] = [:]
        let enumerator = FileManager.default.enumerator(atPath: folder.path)
        while let path = enumerator?.nextObject() as? String {
            var isFolder: ObjCBool = false
            let url = folder.appendingPathComponent(path)
            if FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), !isFolder.boolValue {
                result[path] = try Data(contentsOf: url)
            }
        }
        return result
    }

    /// Asserts that two checkpoint folders hold the same files with the same bytes.
    static func assertSameBytes(_ a: URL, _ b: URL, file: StaticString = #filePath, line: UInt = #line) throws {
        let left = try contents(of: a), right = try contents(of: b)
        XCTAssertEqual(
            left.keys.sorted(), right.keys.sorted(), "files of \(a.path) and \(b.path)", file: file, line: line)
        XCTAssertGreaterThan(left.count, 3, file: file, line: line)
        for (path, bytes) in left where right[path] != bytes {
            XCTFail("\(path) differs between \(a.path) and \(b.path)", file: file, line: line)
        }
    }

    /// The float32 values of a safetensors file (other dtypes skipped): its 8-byte header length, JSON header, data.
    static func float32Values(_ url: URL) throws -> [Float] {
        let data = try Data(contentsOf: url)
        let headerLength = Int(
            data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * $1.offset) })
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + headerLength))) as! [String: Any]
        var values: [Float] = []
        for (key, entry) in header where key != "__metadata__" {
            guard let entry = entry as? [String: Any], entry["dtype"] as? String == "F32",
                let offsets = (entry["data_offsets"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                offsets.count == 2
            else { continue }
            let bytes = data.subdata(in: (8 + headerLength + offsets[0])..<(8 + headerLength + offsets[1]))
            values += bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        }
        return values
    }

    /// The float32 tensor `key` of a safetensors file, flattened.
    static func float32Tensor(_ url: URL, key: String) throws -> [Float] {
        let data = try Data(contentsOf: url)
        let headerLength = Int(
            data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * $1.offset) })
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + headerLength))) as! [String: Any]
        guard let entry = header[key] as? [String: Any], entry["dtype"] as? String == "F32",
            let offsets = (entry["data_offsets"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
            offsets.count == 2
        else { throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: url.path]) }
        let bytes = data.subdata(in: (8 + headerLength + offsets[0])..<(8 + headerLength + offsets[1]))
        return bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }
}
