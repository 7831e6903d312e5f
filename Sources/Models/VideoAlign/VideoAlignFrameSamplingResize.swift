import Foundation

// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/models/videoalign/vision_process.py
/// The size `fetch_video` resizes the kept frames to, and the resize: torchvision's
/// `transforms.functional.resize(video, size, BICUBIC, antialias=True)` on the uint8 frames, which converts them to
/// float32, runs torch's antialiased bicubic, clamps to 0...255 and rounds back to uint8 (``TorchBicubicFloat``).
public struct VideoAlignFrameSizing: Sendable, Equatable {
    public static let imageFactor = 28
    public static let imageMinPixels = 4 * 28 * 28
    public static let imageMaxPixels = 16384 * 28 * 28
    public static let videoMinPixels = 128 * 28 * 28
    public static let videoMaxPixels = 768 * 28 * 28
    public static let videoTotalPixels = 24576 * 28 * 28

    /// The entry's `min_pixels`, `max_pixels`, `total_pixels` (nil: the reference's defaults) and
    /// `resized_height` / `resized_width` (both or neither).
    public var minPixels: Int?
    public var maxPixels: Int?
    public var totalPixels: Int?
    public var resized: (height: Int, width: Int)?

    public init(minPixels: Int? = nil, maxPixels: Int? = nil, totalPixels: Int? = nil) {
        self.minPixels = minPixels
        self.maxPixels = maxPixels
        self.totalPixels = totalPixels
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.minPixels == b.minPixels && a.maxPixels == b.maxPixels && a.totalPixels == b.totalPixels
            && a.resized?.height == b.resized?.height && a.resized?.width == b.resized?.width
    }

    public enum Error: Swift.Error, CustomStringConvertible, Equatable {
        case aspectRatio(height: Int, width: Int)
        case emptySize(height: Int, width: Int)
        public var description: String {
            switch self {
            case .aspectRatio(let h, let w):
                return "VideoAlign frame size: absolute aspect ratio must be smaller than 200, got \(h) × \(w)"
            case .emptySize(let h, let w): return "VideoAlign frame size: \(h) × \(w) pixels"
            }
        }
    }

    /// `fetch_video`'s size for `frameCount` kept frames of `height × width`.
    public func targetSize(frameCount: Int, height: Int, width: Int) throws -> (height: Int, width: Int) {
        if let resized {
            return try Self.smartResize(
                height: resized.height, width: resized.width, minPixels: Double(Self.imageMinPixels),
                maxPixels: Double(Self.imageMaxPixels))
        }
        let minimum = minPixels ?? Self.videoMinPixels
        let total = Double(totalPixels ?? Self.videoTotalPixels)
        let derived = max(
            min(Double(Self.videoMaxPixels), total / Double(frameCount) * Double(VideoAlignFrameSampling.frameFactor)),
            Double(Int(Double(minimum) * 1.05)))
        return try Self.smartResize(
            height: height, width: width, minPixels: Double(minimum), maxPixels: maxPixels.map(Double.init) ?? derived)
    }

    /// vision_process.py's `smart_resize` (its own: the rounded sides are at least `factor`, the scaled-down ones are
    /// not).
    public static func smartResize(
        height: Int, width: Int, factor: Int = imageFactor, minPixels: Double, maxPixels: Double
    ) throws -> (height: Int, width: Int) {
        guard height > 0, width > 0 else { throw Error.emptySize(height: height, width: width) }
        let (h, w) = (Double(height), Double(width))
        guard max(h, w) / min(h, w) <= 200 else { throw Error.aspectRatio(height: height, width: width) }
        var hBar = max(factor, VideoAlignFrameSampling.roundByFactor(h, factor))
        var wBar = max(factor, VideoAlignFrameSampling.roundByFactor(w, factor))
        if Double(hBar * wBar) > maxPixels {
            let beta = (h * w / maxPixels).squareRoot()
            hBar = VideoAlignFrameSampling.floorByFactor(h / beta, factor)
            wBar = VideoAlignFrameSampling.floorByFactor(w / beta, factor)
        } else if Double(hBar * wBar) < minPixels {
            let beta = (minPixels / (h * w)).squareRoot()
            hBar = VideoAlignFrameSampling.ceilByFactor(h * beta, factor)
            wBar = VideoAlignFrameSampling.ceilByFactor(w * beta, factor)
        }
        guard hBar > 0, wBar > 0 else { throw Error.emptySize(height: hBar, width: wBar) }
        return (hBar, wBar)
    }

    /// One 8-bit frame `[height, width, 3]` resized as torchvision resizes a uint8 tensor (unchanged at its own size).
    public static func resize(_ rgb: [UInt8], height: Int, width: Int, to size: (height: Int, width: Int)) -> [UInt8] {
        if size == (height, width) { return rgb }
        return TorchBicubicFloat.resizeUInt8(
            rgb, height: height, width: width, channels: 3, newHeight: size.height, newWidth: size.width)
    }
}
