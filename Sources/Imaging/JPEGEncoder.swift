import CImageCodecs

/// JPEG files written by libjpeg with Pillow's settings: for the same libjpeg-turbo, `JPEGEncoder(quality: q)`
/// writes the bytes `PIL.Image.fromarray(rgb).save(buffer, format="JPEG", quality=q)` writes, so DDPO's JPEG-size
/// rewards (which measure that file) come out the same.
public struct JPEGEncoder: Sendable {
    public enum ChromaSubsampling: Sendable {
        /// Full-resolution chroma (PIL's `subsampling="4:4:4"`).
        case none444
        /// Chroma halved in both directions (PIL's default, `"4:2:0"`).
        case quarter420
    }

    public var quality: Int
    public var subsampling: ChromaSubsampling
    /// Progressive scans (PIL's `progressive=True`) instead of one baseline scan.
    public var progressive: Bool

    public init(quality: Int = 95, subsampling: ChromaSubsampling = .quarter420, progressive: Bool = false) {
        self.quality = quality
        self.subsampling = subsampling
        self.progressive = progressive
    }

    public func encode(_ image: RGBImage) throws -> [UInt8] {
        guard !image.isEmpty, image.width <= 65500, image.height <= 65500 else {
            throw ImageCodecError.unsupported(
                "JPEG needs a size between 1×1 and 65500×65500, got \(image.width)×\(image.height)")
        }
        guard (1...100).contains(quality) else {
            throw ImageCodecError.unsupported("JPEG quality \(quality) is outside 1…100")
        }
        let lumaFactor: Int32 = subsampling == .quarter420 ? 2 : 1
        return try CodecCall.run(failure: ImageCodecError.corruptJPEG) { message, size in
            var buffer: UnsafeMutablePointer<UInt8>?
            var count = 0
            let status = image.pixels.withUnsafeBufferPointer {
                dg_jpeg_encode_rgb(
                    $0.baseAddress, Int32(image.width), Int32(image.height), Int32(quality),
                    lumaFactor, lumaFactor, progressive ? 1 : 0, &buffer, &count, message, size)
            }
            return (status, buffer, count)
        }
    }
}
