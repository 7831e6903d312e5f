import Imaging

/// Pixel → palette colour, by nearest palette colour within a distance threshold (farther pixels are background or
/// blends and get no colour). A lookup table over 6-bit-per-channel RGB makes a pixel one memory read.
struct ColorSegmentation: Sendable {
    /// Label per quantised colour: 0 = none, k + 1 = ShapeColor(rawValue: k).
    private let table: [UInt8]

    init(maximumDistance: Double) {
        let limit = Int(maximumDistance * maximumDistance)
        let palette = ShapeColor.allCases.map(\.rgb)
        var table = [UInt8](repeating: 0, count: 1 << 18)
        for index in 0..<table.count {
            // The centre of the 4×4×4 bin of 8-bit colours this index stands for.
            let r = (index >> 12) << 2 | 2, g = ((index >> 6) & 63) << 2 | 2, b = (index & 63) << 2 | 2
            var best = Int.max, label = 0
            for (k, c) in palette.enumerated() {
                let dr = r - Int(c.r), dg = g - Int(c.g), db = b - Int(c.b)
                let d = dr * dr + dg * dg + db * db
                if d < best { best = d; label = k + 1 }
            }
            table[index] = best <= limit ? UInt8(label) : 0
        }
        self.table = table
    }

    /// One label per pixel, row-major.
    func labels(_ image: RGBImage) -> [UInt8] {
        var labels = [UInt8](repeating: 0, count: image.width * image.height)
        table.withUnsafeBufferPointer { table in
            image.pixels.withUnsafeBufferPointer { pixels in
                labels.withUnsafeMutableBufferPointer { out in
                    for i in 0..<out.count {
                        let r = Int(pixels[3 * i] >> 2), g = Int(pixels[3 * i + 1] >> 2), b = Int(pixels[3 * i + 2] >> 2)
                        out[i] = table[r << 12 | g << 6 | b]
                    }
                }
            }
        }
        return labels
    }
}
