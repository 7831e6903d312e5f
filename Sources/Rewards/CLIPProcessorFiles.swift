// The image preprocessing settings of CLIP-family reward folders, in both layouts transformers writes:
// - transformers 4: `preprocessor_config.json`, the CLIPImageProcessor's settings at the top level;
// - transformers 5: `processor_config.json`, the whole processor, with the image processor's settings nested under
//   "image_processor".
// A setting the file leaves out takes CLIPImageProcessor's default, and the loader says so (LoadWarnings): a wrong
// mean or crop changes every score without an error.
import Checkpoints
import Foundation
import Models
import Tokenizers

extension RewardFiles {
    /// The image processor settings of the first of `folders` holding `preprocessor_config.json` or
    /// `processor_config.json` (the former first, in each folder), with the file read; nil when none does.
    static func imageProcessorSettings(in folders: [URL]) throws -> (file: URL, settings: [String: Any])? {
        for folder in folders {
            let flat = folder.appendingPathComponent("preprocessor_config.json")
            if exists(flat) { return (flat, try ConfigFile.object(from: flat)) }
            let nested = folder.appendingPathComponent("processor_config.json")
            if exists(nested) {
                let object = try ConfigFile.object(from: nested)
                guard let settings = object["image_processor"] as? [String: Any] else {
                    throw RewardError.unsupportedFormat(
                        file: nested.path, reason: "expected the image processor's settings under \"image_processor\"")
                }
                return (nested, settings)
            }
        }
        return nil
    }

    /// transformers' CLIPImageProcessor as a reward folder configures it: size, crop, mean, std, resampling. Absent
    /// file or keys → CLIP's defaults at `imageSize`, each one reported.
    static func clipProcessor(in folders: [URL], imageSize: Int) throws -> CLIPImagePreprocessing {
        guard let (file, object) = try imageProcessorSettings(in: folders) else {
            let defaults = CLIPImagePreprocessing.clipProcessor(size: imageSize)
            LoadWarnings.defaultTaken(
                file: (folders.first ?? URL(fileURLWithPath: ".")).appendingPathComponent("preprocessor_config.json")
                    .path,
                key: "preprocessor_config.json or processor_config.json",
                value:
                    "CLIPImageProcessor's settings (size \(imageSize), crop \(imageSize), mean \(defaults.mean), "
                    + "std \(defaults.std), bicubic)")
            return defaults
        }
        let prefix = file.lastPathComponent == "processor_config.json" ? "image_processor." : ""
        func value<T>(_ key: String, _ parse: (Any) -> T?, default fallback: T, describe: String? = nil) throws -> T {
            guard let raw = object[key], !(raw is NSNull) else {
                LoadWarnings.defaultTaken(file: file.path, key: prefix + key, value: describe ?? "\(fallback)")
                return fallback
            }
            guard let parsed = parse(raw) else {
                throw RewardError.unsupportedFormat(file: file.path, reason: "\(prefix)\(key): unreadable value \(raw)")
            }
            return parsed
        }
        func side(_ raw: Any) -> Int? {
            if let n = raw as? Int { return n }
            guard let d = raw as? [String: Any] else { return nil }
            if let shortest = d["shortest_edge"] as? Int { return shortest }
            guard let height = d["height"] as? Int, (d["width"] as? Int).map({ $0 == height }) ?? true else {
                return nil
            }
            return height
        }
        func channels(_ raw: Any) -> [Float]? {
            if let n = raw as? NSNumber { return Array(repeating: n.floatValue, count: 3) }
            guard let list = raw as? [NSNumber], list.count == 3 else { return nil }
            return list.map(\.floatValue)
        }
        let size = try value("size", side, default: imageSize)
        let crop = try value("crop_size", side, default: size)
        let mean = try value("image_mean", channels, default: CLIPImagePreprocessing.openAIMean)
        let std = try value("image_std", channels, default: CLIPImagePreprocessing.openAIStd)
        let resample = try value("resample", { $0 as? Int }, default: 3, describe: "3 (bicubic)")
        var problems: [String] = []
        if size != crop || object["do_center_crop"] as? Bool == false || object["do_resize"] as? Bool == false {
            problems.append(
                "expected resize of the shortest edge to N and a centre crop of N×N, found size \(size), crop \(crop)")
        }
        if resample != 3 { problems.append("\(prefix)resample: expected 3 (bicubic), found \(resample)") }
        if object["do_normalize"] as? Bool == false { problems.append("\(prefix)do_normalize false is not supported") }
        if object["do_rescale"] as? Bool == false { problems.append("\(prefix)do_rescale false is not supported") }
        if let factor = (object["rescale_factor"] as? NSNumber)?.doubleValue, abs(factor * 255 - 1) > 1e-6 {
            problems.append("\(prefix)rescale_factor: expected 1/255, found \(factor)")
        }
        if std.contains(where: { !($0 > 0) || !$0.isFinite }) || mean.contains(where: { !$0.isFinite }) {
            problems.append("\(prefix)image_mean/image_std: expected finite values and positive stds")
        }
        guard problems.isEmpty else {
            throw RewardError.unsupportedFormat(file: file.path, reason: problems.joined(separator: "; "))
        }
        guard crop == imageSize else {
            throw RewardError.checkpointMismatch(
                file: file.path, expected: "crop size \(imageSize) (the model's image_size)", found: "\(crop)")
        }
        return .clipProcessor(size: size, mean: mean, std: std)
    }

    /// open_clip's evaluation transform for a folder's `open_clip_config.json`, saying which `preprocess_cfg` keys
    /// took open_clip's defaults.
    static func openCLIPPreprocessing(_ config: OpenCLIPConfig, file: String) -> CLIPImagePreprocessing {
        let defaults = CLIPImagePreprocessing.openAIMean
        let taken: [(key: String, missing: Bool, value: String)] = [
            ("mean", config.imageMean == nil, "\(defaults)"),
            ("std", config.imageStd == nil, "\(CLIPImagePreprocessing.openAIStd)"),
            ("resize_mode", config.resizeMode == nil, "shortest"),
            ("interpolation", config.interpolation == nil, "bicubic")
        ]
        for (key, missing, value) in taken where missing {
            LoadWarnings.defaultTaken(file: file, key: "preprocess_cfg.\(key)", value: value)
        }
        return .openCLIP(config)
    }
}
