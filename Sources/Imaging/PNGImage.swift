/// A decoded PNG: 8-bit samples, `channels` per pixel (1 grey, 2 grey + alpha, 3 RGB, 4 RGBA), rows from the top.
public struct PNGImage: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public let channels: Int
    public let samples: [UInt8]

    /// The image as RGB: grey is copied to all channels, alpha is composited over `background`.
    public func rgbImage(background: RGB = .white) -> RGBImage {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        let bg = [Int(background.r), Int(background.g), Int(background.b)]
        for i in 0..<(width * height) {
            let s = i * channels
            let alpha = channels == 2 || channels == 4 ? Int(samples[s + channels - 1]) : 255
            for c in 0..<3 {
                let value = Int(channels <= 2 ? samples[s] : samples[s + c])
                pixels[i * 3 + c] = UInt8((value * alpha + bg[c] * (255 - alpha) + 127) / 255)
            }
        }
        // The buffer length is right by construction.
        return try! RGBImage(width: width, height: height, pixels: pixels)
    }
}
