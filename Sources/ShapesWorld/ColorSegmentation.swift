import Imaging

/// Pixel → palette colour, measured against the image's own background.
///
/// The background is the per-channel median of the border pixels (shapes keep off the border). A pixel takes palette
/// colour k when it lies close to the segment from "half-way between background and k" to "k": its coverage
/// α = ⟨p − bg, k − bg⟩ / |k − bg|² is at least `minimumCoverage` and its distance to that segment is at
/// most `maximumDistance`. Thresholding coverage at ½ keeps a blurred or anti-aliased shape at its true outline (a
/// plain distance-to-colour test would shave off every soft edge and turn small blurred circles into squares), and
/// the distance test rejects colours that are not on any palette colour's line (blends of two shapes, other hues).
struct ColorSegmentation: Sendable {
    let maximumDistance: Double
    let minimumCoverage: Double
    private let palette: [(r: Float, g: Float, b: Float)] = ShapeColor.allCases.map {
        (Float($0.rgb.r), Float($0.rgb.g), Float($0.rgb.b))
    }

    init(maximumDistance: Double, minimumCoverage: Double = 0.5) {
        self.maximumDistance = maximumDistance
        self.minimumCoverage = minimumCoverage
    }

    /// The estimated background: median border colour, or white when that median is itself a palette colour (an
    /// image filled with a shape colour has no usable background).
    func background(of image: RGBImage) -> RGB {
        guard image.width > 0, image.height > 0 else { return .white }
        var channels: [[UInt8]] = [[], [], []]
        func add(_ x: Int, _ y: Int) {
            let o = image.offset(x: x, y: y)
            for c in 0..<3 { channels[c].append(image.pixels[o + c]) }
        }
        for x in 0..<image.width {
            add(x, 0)
            if image.height > 1 { add(x, image.height - 1) }
        }
        for y in 1..<max(1, image.height - 1) {
            add(0, y)
            if image.width > 1 { add(image.width - 1, y) }
        }
        let medians = channels.map { $0.sorted()[$0.count / 2] }
        let estimate = RGB(medians[0], medians[1], medians[2])
        let tooColourful = ShapeColor.allCases.contains {
            Double($0.rgb.squaredDistance(to: estimate)) <= maximumDistance * maximumDistance
        }
        return tooColourful ? .white : estimate
    }

    /// One label per pixel, row-major: 0 = background or unknown, k + 1 = ShapeColor(rawValue: k).
    func labels(_ image: RGBImage) -> [UInt8] {
        let bg = background(of: image)
        let (bgR, bgG, bgB) = (Float(bg.r), Float(bg.g), Float(bg.b))
        // Directions from the background to each colour, with their squared lengths.
        let directions = palette.map { (r: $0.r - bgR, g: $0.g - bgG, b: $0.b - bgB) }
        let lengths = directions.map { $0.r * $0.r + $0.g * $0.g + $0.b * $0.b }
        // A pixel nearer the background than coverage × the shortest direction cannot reach any colour's segment
        // (Cauchy–Schwarz): most pixels stop at this test.
        let nearest = Float(minimumCoverage) * (lengths.min() ?? 0).squareRoot()
        let quickReject = nearest * nearest
        let coverage = Float(minimumCoverage), limit = Float(maximumDistance * maximumDistance)
        var labels = [UInt8](repeating: 0, count: image.width * image.height)
        image.pixels.withUnsafeBufferPointer { pixels in
            labels.withUnsafeMutableBufferPointer { out in
                for i in 0..<out.count {
                    let dr = Float(pixels[3 * i]) - bgR, dg = Float(pixels[3 * i + 1]) - bgG,
                        db = Float(pixels[3 * i + 2]) - bgB
                    if dr * dr + dg * dg + db * db < quickReject { continue }
                    var best = limit, label: UInt8 = 0
                    for k in 0..<directions.count {
                        let e = directions[k]
                        let t = (dr * e.r + dg * e.g + db * e.b) / lengths[k]
                        if t < coverage { continue }
                        let s = min(t, 1)
                        let rr = dr - s * e.r, rg = dg - s * e.g, rb = db - s * e.b
                        let distance = rr * rr + rg * rg + rb * rb
                        if distance <= best {
                            best = distance
                            label = UInt8(k + 1)
                        }
                    }
                    out[i] = label
                }
            }
        }
        return labels
    }
}
