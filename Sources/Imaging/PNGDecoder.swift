import CImageCodecs
import Foundation

/// Reads PNG files with libpng: every colour type and bit depth, interlaced or not. Palettes become RGB (RGBA when
/// a tRNS chunk gives alpha), 1/2/4-bit grey is scaled to 0…255, 16-bit samples keep their high byte.
public enum PNGDecoder {
    public static func decode(_ bytes: [UInt8]) throws -> PNGImage {
        var width: Int32 = 0, height: Int32 = 0, channels: Int32 = 0
        let samples = try CodecCall.run(failure: ImageCodecError.corruptPNG) { message, size in
            var buffer: UnsafeMutablePointer<UInt8>?
            let status = bytes.withUnsafeBufferPointer {
                dg_png_decode($0.baseAddress, $0.count, &buffer, &width, &height, &channels, message, size)
            }
            return (status, buffer, Int(width) * Int(height) * Int(channels))
        }
        return PNGImage(width: Int(width), height: Int(height), channels: Int(channels), samples: samples)
    }

    public static func decode(contentsOf url: URL) throws -> PNGImage {
        try ImageCodecError.decodingFile(url, decode)
    }

    /// Decodes and converts to RGB (alpha composited over white).
    public static func decodeRGB(_ bytes: [UInt8]) throws -> RGBImage { try decode(bytes).rgbImage() }
}
