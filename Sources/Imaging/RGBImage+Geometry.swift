/// Cropping and resizing.
extension RGBImage {
    /// The `width × height` region whose top-left corner is (x, y); it must lie inside the image.
    public func cropped(x: Int, y: Int, width: Int, height: Int) throws -> RGBImage {
        guard x >= 0, y >= 0, width >= 0, height >= 0, x + width <= self.width, y + height <= self.height else {
            throw ImagingError.invalidArgument(
                "crop \(width)×\(height) at (\(x), \(y)) does not fit inside a \(self.width)×\(self.height) image")
        }
        var out = [UInt8](repeating: 0, count: width * height * 3)
        for row in 0..<height {
            let source = offset(x: x, y: y + row)
            out[(row * width * 3)..<((row + 1) * width * 3)] = pixels[source..<(source + width * 3)]
        }
        return try RGBImage(width: width, height: height, pixels: out)
    }

    /// Nearest-neighbour resize: each output pixel copies the source pixel under its centre.
    public func resizedNearest(width newWidth: Int, height newHeight: Int) throws -> RGBImage {
        try checkResizable(newWidth, newHeight)
        var out = [UInt8](repeating: 0, count: newWidth * newHeight * 3)
        for y in 0..<newHeight {
            let sy = min(height - 1, (2 * y + 1) * height / (2 * newHeight))
            for x in 0..<newWidth {
                let sx = min(width - 1, (2 * x + 1) * width / (2 * newWidth))
                let s = offset(x: sx, y: sy), d = (y * newWidth + x) * 3
                out[d] = pixels[s]
                out[d + 1] = pixels[s + 1]
                out[d + 2] = pixels[s + 2]
            }
        }
        return try RGBImage(width: newWidth, height: newHeight, pixels: out)
    }

    /// Bilinear resize with pixel centres aligned (the convention of PIL and `align_corners=False`), edges clamped.
    /// No antialiasing prefilter: for large reductions, `resizedNearest` or repeated halving is as good.
    public func resizedBilinear(width newWidth: Int, height newHeight: Int) throws -> RGBImage {
        try checkResizable(newWidth, newHeight)
        func taps(_ outSize: Int, _ inSize: Int) -> [(Int, Int, Float)] {
            (0..<outSize).map { i in
                let s = max(0, (Float(i) + 0.5) * Float(inSize) / Float(outSize) - 0.5)
                let i0 = min(inSize - 1, Int(s))
                return (i0, min(inSize - 1, i0 + 1), s - Float(i0))
            }
        }
        let xs = taps(newWidth, width), ys = taps(newHeight, height)
        var out = [UInt8](repeating: 0, count: newWidth * newHeight * 3)
        for y in 0..<newHeight {
            let (y0, y1, fy) = ys[y]
            for x in 0..<newWidth {
                let (x0, x1, fx) = xs[x]
                for c in 0..<3 {
                    let a = Float(pixels[offset(x: x0, y: y0) + c]), b = Float(pixels[offset(x: x1, y: y0) + c])
                    let p = Float(pixels[offset(x: x0, y: y1) + c]), q = Float(pixels[offset(x: x1, y: y1) + c])
                    let top = a + (b - a) * fx, bottom = p + (q - p) * fx
                    out[(y * newWidth + x) * 3 + c] = UInt8(min(255, max(0, (top + (bottom - top) * fy).rounded())))
                }
            }
        }
        return try RGBImage(width: newWidth, height: newHeight, pixels: out)
    }

    /// Integer upscaling by pixel replication (sharp enlargement of tiny images for viewing).
    public func upscaled(by factor: Int) throws -> RGBImage {
        guard factor >= 1 else { throw ImagingError.invalidArgument("upscale factor must be ≥ 1, got \(factor)") }
        return factor == 1 ? self : try resizedNearest(width: width * factor, height: height * factor)
    }

    private func checkResizable(_ newWidth: Int, _ newHeight: Int) throws {
        guard newWidth >= 0, newHeight >= 0 else {
            throw ImagingError.invalidArgument("target size must be non-negative, got \(newWidth)×\(newHeight)")
        }
        guard !isEmpty || newWidth * newHeight == 0 else {
            throw ImagingError.invalidArgument(
                "cannot resize an empty \(width)×\(height) image to \(newWidth)×\(newHeight)")
        }
    }
}
