import CImageCodecs
import Foundation

/// Writes 8-bit RGB PNG files with libpng (IHDR, IDAT, IEND; libpng's adaptive row filters and zlib compression).
public enum PNGEncoder {
    public static func encode(_ image: RGBImage) throws -> [UInt8] {
        guard !image.isEmpty else {
            throw ImageCodecError.unsupported("PNG cannot store an empty \(image.width)×\(image.height) image")
        }
        return try CodecCall.run(failure: ImageCodecError.corruptPNG) { message, size in
            var buffer: UnsafeMutablePointer<UInt8>?
            var count = 0
            let status = image.pixels.withUnsafeBufferPointer {
                dg_png_encode_rgb(
                    $0.baseAddress, Int32(image.width), Int32(image.height), &buffer, &count, message,
                    size)
            }
            return (status, buffer, count)
        }
    }

    public static func write(_ image: RGBImage, to url: URL) throws {
        try Data(try encode(image)).write(to: url, options: .atomic)
    }
}
