import Foundation

/// HTML5's named character references, read on first use from the bundled Resources/html5-entities.tsv, which
/// tools/generate_html_entities.py writes from Python's `html.entities.html5`.
enum HTMLEntityTable {
    /// Keys are names after "&", with ";" where the standard has it; values are the code points they stand for.
    static let references: [String: Scalars] = {
        guard
            let url = Bundle.module.url(forResource: "html5-entities", withExtension: "tsv", subdirectory: "Resources"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else {
            // The file ships inside the package's resource bundle; without it the build is broken, not the input.
            fatalError("Tokenizers resource html5-entities.tsv is missing from \(Bundle.module.bundlePath)")
        }
        return parse(text)
    }()

    /// Lines "name<TAB>hex hex…"; lines starting with "#" are comments.
    static func parse(_ text: String) -> [String: Scalars] {
        var table: [String: Scalars] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let fields = line.split(separator: "\t")
            table[String(fields[0])] = fields[1].split(separator: " ").map { Unicode.Scalar(UInt32($0, radix: 16)!)! }
        }
        return table
    }
}
