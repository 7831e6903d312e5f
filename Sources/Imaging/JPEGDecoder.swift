import CImageCodecs
import Foundation

/// Reads JPEG files with libjpeg: baseline and progressive; greyscale, YCbCr, RGB and (Adobe) CMYK, all as RGB.
/// Uses libjpeg's default decoding (accurate integer IDCT, smooth chroma upsampling), as PIL does.
public enum JPEGDecoder {
    public static func decode(_ bytes: [UInt8]) throws -> RGBImage {
        var width: Int32 = 0, height: Int32 = 0
        let pixels = try CodecCall.run(failure: ImageCodecError.corruptJPEG) { message, size in
            var buffer: UnsafeMutablePointer<UInt8>?
            let status = bytes.withUnsafeBufferPointer {
                dg_jpeg_decode_rgb($0.baseAddress, $0.count, &buffer, &width, &height, message, size)
            }
            return (status, buffer, Int(width) * Int(height) * 3)
        }
        return try RGBImage(width: Int(width), height: Int(height), pixels: pixels)
    }

    public static func decode(contentsOf url: URL) throws -> RGBImage {
        try ImageCodecError.decodingFile(url, decode)
    }
}
