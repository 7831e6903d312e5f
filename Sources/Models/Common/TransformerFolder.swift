import Foundation

/// Where a pipeline reads its transformer: `transformer/` of a diffusers folder, or a folder given instead, either a
/// transformer folder itself or a training checkpoint's folder with `transformer/` inside.
public enum TransformerFolder {
    public static func url(in folder: URL, replacement: URL?) -> URL {
        guard let replacement else { return folder.appendingPathComponent("transformer") }
        let nested = replacement.appendingPathComponent("transformer")
        let hasNested = FileManager.default.fileExists(atPath: nested.appendingPathComponent("config.json").path)
        return hasNested ? nested : replacement
    }
}
