import Foundation
import Imaging

/// What is wrong with a SEED-Data-Edit annotation file or one of its images; each case names the file and the line.
public enum SEEDDataEditError: Error, CustomStringConvertible, Equatable {
    case unreadable(file: String, reason: String)
    case badLine(file: String, line: Int, reason: String)
    case missingKey(file: String, line: Int, key: String)
    case missingImage(file: String, line: Int, image: String)
    case unreadableImage(file: String, line: Int, image: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let file, let reason): return "\(file): \(reason)"
        case .badLine(let file, let line, let reason): return "\(file):\(line): \(reason)"
        case .missingKey(let file, let line, let key): return "\(file):\(line): no \"\(key)\" string"
        case .missingImage(let file, let line, let image): return "\(file):\(line): missing image \(image)"
        case .unreadableImage(let file, let line, let image, let reason):
            return "\(file):\(line): cannot read the image \(image) (\(reason))"
        }
    }
}

/// SEED-Data-Edit's annotation file as DanceGRPO's Qwen-Image-Edit preprocessing reads it (its `assets/edit_data.jsonl`
/// layout): one JSON object per line with `source_image` (a path relative to the images root), `instruction` and
/// optional `target_image`, `task_type`, `instruction_cn`. The seed joins `source_image` to a fixed root
/// (`./data/SEED-Data-Edit-Part2-3/real_editing/images`); here the root is given, by default the annotation file's
/// folder. Unlike the seed, which skips a line it cannot parse with a warning, a bad line, a missing key or a missing
/// image is an error naming the file and its 1-based line; blank lines are skipped.
/// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/data_preprocess/preprocess_qwenimage_edit_embeddings.py
public struct SEEDDataEdit {
    public struct Sample: Equatable, Sendable {
        /// 1-based line of the annotation file.
        public var line: Int
        /// The annotation's `source_image`, as written.
        public var sourceImage: String
        /// `source_image` resolved against the images root.
        public var sourceURL: URL
        public var instruction: String
        public var targetImage: String?
    }

    public let file: URL
    public let imageRoot: URL
    /// The samples in file order; index `i` is the seed's `filename` `str(i)`.
    public let samples: [Sample]

    /// Reads and checks the whole file: every line an object with `source_image` and `instruction` strings, every
    /// source image present.
    public init(file: URL, imageRoot: URL? = nil) throws {
        self.file = file
        self.imageRoot = imageRoot ?? file.deletingLastPathComponent()
        guard let data = FileManager.default.contents(atPath: file.path) else {
            throw SEEDDataEditError.unreadable(file: file.path, reason: "cannot read the annotation file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw SEEDDataEditError.unreadable(file: file.path, reason: "not UTF-8 text")
        }
        var samples: [Sample] = []
        for (offset, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            samples.append(try Self.parse(line, number: offset + 1, file: file.path, root: self.imageRoot))
        }
        guard !samples.isEmpty else {
            throw SEEDDataEditError.unreadable(file: file.path, reason: "no annotation lines")
        }
        self.samples = samples
    }

    static func parse(_ line: String, number: Int, file: String, root: URL) throws -> Sample {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(line.utf8))
        } catch {
            throw SEEDDataEditError.badLine(file: file, line: number, reason: "not a JSON object")
        }
        guard let fields = object as? [String: Any] else {
            throw SEEDDataEditError.badLine(file: file, line: number, reason: "not a JSON object")
        }
        func string(_ key: String) throws -> String {
            guard let value = fields[key] as? String, !value.isEmpty else {
                throw SEEDDataEditError.missingKey(file: file, line: number, key: key)
            }
            return value
        }
        let source = try string("source_image")
        let instruction = try string("instruction")
        let url = URL(fileURLWithPath: source, relativeTo: root).standardizedFileURL
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw SEEDDataEditError.missingImage(file: file, line: number, image: url.path)
        }
        return Sample(
            line: number, sourceImage: source, sourceURL: url, instruction: instruction,
            targetImage: fields["target_image"] as? String)
    }

    /// A sample's source image as PIL's `Image.open(…).convert("RGB")` gives it: JPEG (libjpeg, as PIL) or PNG (grey
    /// copied to the three channels, alpha dropped), 8-bit RGB row-major `[height, width, 3]`.
    public func sourceRGB(_ sample: Sample) throws -> RGBImage {
        let url = sample.sourceURL
        let bytes: [UInt8]
        do {
            bytes = [UInt8](try Data(contentsOf: url))
        } catch {
            throw SEEDDataEditError.missingImage(file: file.path, line: sample.line, image: url.path)
        }
        do {
            if bytes.starts(with: [0xFF, 0xD8]) { return try JPEGDecoder.decode(bytes) }
            let png = try PNGDecoder.decode(bytes)
            let count = png.width * png.height
            var pixels = [UInt8](repeating: 0, count: count * 3)
            for i in 0..<count {
                for c in 0..<3 { pixels[i * 3 + c] = png.samples[i * png.channels + (png.channels <= 2 ? 0 : c)] }
            }
            return try RGBImage(width: png.width, height: png.height, pixels: pixels)
        } catch {
            throw SEEDDataEditError.unreadableImage(
                file: file.path, line: sample.line, image: url.path, reason: "not a readable JPEG or PNG: \(error)")
        }
    }
}
