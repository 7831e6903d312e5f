import Foundation

/// Image comparison for codec tests.
extension RGBImage {
    /// Peak signal-to-noise ratio in dB over all channels (infinity for identical images).
    public static func psnr(_ a: RGBImage, _ b: RGBImage) throws -> Double {
        guard a.width == b.width, a.height == b.height else {
            throw ImagingError.invalidArgument(
                "PSNR needs equal sizes, got \(a.width)×\(a.height) and \(b.width)×\(b.height)")
        }
        guard !a.pixels.isEmpty else { return .infinity }
        var sum = 0.0
        for (p, q) in zip(a.pixels, b.pixels) {
            let d = Double(p) - Double(q)
            sum += d * d
        }
        let mse = sum / Double(a.pixels.count)
        return mse == 0 ? .infinity : 10 * log10(255 * 255 / mse)
    }
}
