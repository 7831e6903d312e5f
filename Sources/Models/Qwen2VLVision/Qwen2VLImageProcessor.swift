import Checkpoints
import Engine
import Foundation

// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/models/qwen2_vl/image_processing_qwen2_vl.py
/// transformers' `Qwen2VLImageProcessor` (the `processor/preprocessor_config.json` of Qwen-Image-Edit): the size an
/// image is resized to (``smartResize(height:width:factor:minPixels:maxPixels:)``), then rescaling, normalisation
/// with its mean/std and the patch flattening that give `pixel_values` and `image_grid_thw`.
///
/// ``preprocess(rgb:height:width:)`` is the whole processor on an 8-bit image; ``resize(rgb:height:width:)``
/// resizes as transformers' default (torchvision) backend does on the CPU: torch's uint8 antialiased bicubic
/// (``TorchBicubicUInt8``).
public struct Qwen2VLImageProcessor: Codable, Sendable, Equatable {
    /// Fewest pixels after resizing (`min_pixels`, or `size.shortest_edge`).
    public var minPixels = 56 * 56
    /// Most pixels after resizing (`max_pixels`, or `size.longest_edge`).
    public var maxPixels = 28 * 28 * 1280
    public var patchSize = 14
    public var temporalPatchSize = 2
    public var mergeSize = 2
    public var imageMean: [Float] = [0.48145466, 0.4578275, 0.40821073]
    public var imageStd: [Float] = [0.26862954, 0.26130258, 0.27577711]
    public var rescaleFactor: Float = 1 / 255
    public var doRescale = true
    public var doNormalize = true

    enum CodingKeys: String, CodingKey {
        case minPixels = "min_pixels", maxPixels = "max_pixels", size, patchSize = "patch_size"
        case temporalPatchSize = "temporal_patch_size", mergeSize = "merge_size", imageMean = "image_mean"
        case imageStd = "image_std", rescaleFactor = "rescale_factor", doRescale = "do_rescale"
        case doNormalize = "do_normalize"
    }

    private struct Size: Codable {
        var shortestEdge: Int?
        var longestEdge: Int?
        enum CodingKeys: String, CodingKey { case shortestEdge = "shortest_edge", longestEdge = "longest_edge" }
    }

    public init() {}

    public init(minPixels: Int, maxPixels: Int) {
        self.minPixels = minPixels
        self.maxPixels = maxPixels
    }

    /// As transformers' `__init__`: `min_pixels`/`max_pixels` override `size`'s edges.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = Qwen2VLImageProcessor()
        let size = try c.decodeIfPresent(Size.self, forKey: .size)
        minPixels = try c.decodeIfPresent(Int.self, forKey: .minPixels) ?? size?.shortestEdge ?? d.minPixels
        maxPixels = try c.decodeIfPresent(Int.self, forKey: .maxPixels) ?? size?.longestEdge ?? d.maxPixels
        patchSize = try c.decodeIfPresent(Int.self, forKey: .patchSize) ?? d.patchSize
        temporalPatchSize = try c.decodeIfPresent(Int.self, forKey: .temporalPatchSize) ?? d.temporalPatchSize
        mergeSize = try c.decodeIfPresent(Int.self, forKey: .mergeSize) ?? d.mergeSize
        imageMean = try c.decodeIfPresent([Float].self, forKey: .imageMean) ?? d.imageMean
        imageStd = try c.decodeIfPresent([Float].self, forKey: .imageStd) ?? d.imageStd
        rescaleFactor = try c.decodeIfPresent(Float.self, forKey: .rescaleFactor) ?? d.rescaleFactor
        doRescale = try c.decodeIfPresent(Bool.self, forKey: .doRescale) ?? d.doRescale
        doNormalize = try c.decodeIfPresent(Bool.self, forKey: .doNormalize) ?? d.doNormalize
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(minPixels, forKey: .minPixels)
        try c.encode(maxPixels, forKey: .maxPixels)
        try c.encode(patchSize, forKey: .patchSize)
        try c.encode(temporalPatchSize, forKey: .temporalPatchSize)
        try c.encode(mergeSize, forKey: .mergeSize)
        try c.encode(imageMean, forKey: .imageMean)
        try c.encode(imageStd, forKey: .imageStd)
        try c.encode(rescaleFactor, forKey: .rescaleFactor)
        try c.encode(doRescale, forKey: .doRescale)
        try c.encode(doNormalize, forKey: .doNormalize)
    }

    /// The processor file of a `processor/` folder in either layout transformers writes: `preprocessor_config.json`
    /// (transformers 4, the image processor's settings at the top level) or `processor_config.json` (transformers 5,
    /// the whole processor, the image processor's settings under "image_processor"); nil when it holds neither.
    public static func file(in folder: URL) -> URL? {
        ["preprocessor_config.json", "processor_config.json"].map { folder.appendingPathComponent($0) }
            .first { FileManager.default.fileExists(atPath: $0.path) }
    }

    /// Reads a `processor/` folder (either layout, ``file(in:)``) or one of its two files.
    public static func load(_ url: URL) throws -> Qwen2VLImageProcessor {
        let isFolder = url.hasDirectoryPath || url.pathExtension.isEmpty
        let file = isFolder ? file(in: url) ?? url.appendingPathComponent("preprocessor_config.json") : url
        let processor: Qwen2VLImageProcessor
        if file.lastPathComponent == "processor_config.json" {
            guard let nested = try ConfigFile.object(from: file)["image_processor"] as? [String: Any] else {
                throw ModelConfigError.invalidValues(
                    file: file.path, problems: ["image_processor: expected the image processor's settings, found none"])
            }
            processor = try JSONDecoder().decode(
                Qwen2VLImageProcessor.self, from: try JSONSerialization.data(withJSONObject: nested))
        } else {
            processor = try ConfigFile.decode(Qwen2VLImageProcessor.self, from: file)
        }
        try processor.check(file: file.path)
        return processor
    }

    /// The settings' sanity (sizes positive and bounded, three finite nonzero std values), problems named against
    /// `file`.
    func check(file: String) throws {
        var c = ConfigChecks()
        c.size("patch_size", patchSize, limit: ConfigChecks.countLimit)
        c.size("temporal_patch_size", temporalPatchSize, limit: ConfigChecks.countLimit)
        c.size("merge_size", mergeSize, limit: ConfigChecks.countLimit)
        c.size("max_pixels", maxPixels)
        if imageMean.count != 3 { c.add("image_mean: expected 3 entries, found \(imageMean.count)") }
        if imageStd.count != 3 { c.add("image_std: expected 3 entries, found \(imageStd.count)") }
        for (i, s) in imageStd.enumerated() where !(s.isFinite && s != 0) {
            c.add("image_std[\(i)]: expected a finite nonzero number, found \(s)")
        }
        try c.check(file: file)
    }

    public enum Error: Swift.Error, CustomStringConvertible, Equatable {
        case aspectRatio(height: Int, width: Int)
        case emptyImage(height: Int, width: Int)
        public var description: String {
            switch self {
            case .aspectRatio(let h, let w):
                return "Qwen2VLImageProcessor: absolute aspect ratio must be smaller than 200, got \(h) × \(w)"
            case .emptyImage(let h, let w): return "Qwen2VLImageProcessor: image of \(h) × \(w) pixels"
            }
        }
    }

    /// transformers' `smart_resize`: height and width rounded to multiples of `factor` (Python's `round`, halves to
    /// even), then scaled down (floor) if over `maxPixels` or up (ceil) if under `minPixels`, keeping the aspect.
    public static func smartResize(height: Int, width: Int, factor: Int = 28, minPixels: Int, maxPixels: Int) throws
        -> (height: Int, width: Int)
    {
        guard height > 0, width > 0 else { throw Error.emptyImage(height: height, width: width) }
        let (h, w) = (Double(height), Double(width))
        guard max(h, w) / min(h, w) <= 200 else { throw Error.aspectRatio(height: height, width: width) }
        let f = Double(factor)
        var hBar = Int((h / f).rounded(.toNearestOrEven)) * factor
        var wBar = Int((w / f).rounded(.toNearestOrEven)) * factor
        if hBar * wBar > maxPixels {
            let beta = ((h * w) / Double(maxPixels)).squareRoot()
            hBar = max(factor, Int((h / beta / f).rounded(.down)) * factor)
            wBar = max(factor, Int((w / beta / f).rounded(.down)) * factor)
        } else if hBar * wBar < minPixels {
            let beta = (Double(minPixels) / (h * w)).squareRoot()
            hBar = Int((h * beta / f).rounded(.up)) * factor
            wBar = Int((w * beta / f).rounded(.up)) * factor
        }
        return (hBar, wBar)
    }

    /// The size an image of `height × width` pixels is resized to before ``pixelValues(_:)``.
    public func targetSize(height: Int, width: Int) throws -> (height: Int, width: Int) {
        try Self.smartResize(
            height: height, width: width, factor: patchSize * mergeSize, minPixels: minPixels, maxPixels: maxPixels)
    }

    /// One 8-bit RGB image, `rgb` row-major `[height, width, 3]`, resized to ``targetSize(height:width:)`` (as it is
    /// when already there).
    public func resize(rgb: [UInt8], height: Int, width: Int) throws -> (rgb: [UInt8], height: Int, width: Int) {
        precondition(
            rgb.count == height * width * 3,
            "Qwen2VLImageProcessor.resize: \(rgb.count) values for \(height) × \(width) RGB pixels")
        let size = try targetSize(height: height, width: width)
        let resized = TorchBicubicUInt8.resize(
            rgb, height: height, width: width, channels: 3, newHeight: size.height, newWidth: size.width)
        return (resized, size.height, size.width)
    }

    /// The whole processor on one 8-bit RGB image: ``resize(rgb:height:width:)``, then ``pixelValues(_:)``.
    public func preprocess(rgb: [UInt8], height: Int, width: Int) throws
        -> (pixelValues: Tensor, grid: (t: Int, h: Int, w: Int))
    {
        let resized = try resize(rgb: rgb, height: height, width: width)
        return pixelValues(Tensor(resized.rgb.map { Float($0) }, shape: [resized.height, resized.width, 3]))
    }

    /// `image [H, W, C]` (channels-last, 0...255 before rescaling, already at ``targetSize(height:width:)``) →
    /// `pixel_values [gh·gw, C·T·P·P]` and its grid `(1, gh, gw)` (gh = H / P). Rows are merge unit by merge unit
    /// in raster order, each unit's m × m patches in raster order; a row is (channel, frame, y, x) with the image
    /// repeated over the `temporal_patch_size` frames.
    public func pixelValues(_ image: Tensor) -> (pixelValues: Tensor, grid: (t: Int, h: Int, w: Int)) {
        let (p, m, t) = (patchSize, mergeSize, temporalPatchSize)
        precondition(
            image.ndim == 3 && image.dim(0) % (p * m) == 0 && image.dim(1) % (p * m) == 0,
            "Qwen2VLImageProcessor.pixelValues: expected [H, W, C] with H and W multiples of \(p * m), got "
                + "\(image.shape)")
        let channels = image.dim(2)
        var x = image.asType(.float32)
        if doRescale { x = x * rescaleFactor }
        if doNormalize {
            precondition(imageMean.count == channels && imageStd.count == channels, "mean/std per channel")
            x = (x - Tensor(imageMean, shape: [1, 1, channels])) / Tensor(imageStd, shape: [1, 1, channels])
        }
        let (gh, gw) = (image.dim(0) / p, image.dim(1) / p)
        // [gh/m, m, P, gw/m, m, P, C] → [gh/m, gw/m, m, m, C, P, P], then the frames inserted after the channel.
        let units = x.reshaped([gh / m, m, p, gw / m, m, p, channels]).transposed([0, 3, 1, 4, 6, 2, 5])
        let framed = units.expandedDims(axis: 5).broadcast(to: [gh / m, gw / m, m, m, channels, t, p, p])
        return (framed.reshaped([gh * gw, channels * t * p * p]), (1, gh, gw))
    }
}
