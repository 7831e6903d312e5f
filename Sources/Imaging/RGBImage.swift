/// An 8-bit RGB image: `pixels` holds width × height × 3 bytes, row-major from the top row, channels interleaved.
public struct RGBImage: Hashable, Sendable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    /// A `width × height` image filled with one colour.
    public init(width: Int, height: Int, fill: RGB = .white) {
        precondition(width >= 0 && height >= 0, "image size must be non-negative, got \(width)×\(height)")
        self.width = width
        self.height = height
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for i in stride(from: 0, to: pixels.count, by: 3) {
            pixels[i] = fill.r
            pixels[i + 1] = fill.g
            pixels[i + 2] = fill.b
        }
        self.pixels = pixels
    }

    /// Wraps an existing RGB8 buffer; its length must be exactly width × height × 3.
    public init(width: Int, height: Int, pixels: [UInt8]) throws {
        guard width >= 0, height >= 0 else {
            throw ImagingError.invalidArgument("image size must be non-negative, got \(width)×\(height)")
        }
        guard pixels.count == width * height * 3 else {
            throw ImagingError.invalidArgument(
                "RGB buffer for \(width)×\(height) needs \(width * height * 3) bytes, got \(pixels.count)")
        }
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    public var isEmpty: Bool { width == 0 || height == 0 }

    /// Byte offset of pixel (x, y) in `pixels`.
    @inlinable public func offset(x: Int, y: Int) -> Int { (y * width + x) * 3 }

    /// The pixel at column x, row y (row 0 is the top). Out-of-range coordinates trap.
    public subscript(x: Int, y: Int) -> RGB {
        get {
            precondition(x >= 0 && x < width && y >= 0 && y < height, "pixel (\(x), \(y)) outside \(width)×\(height)")
            let o = offset(x: x, y: y)
            return RGB(pixels[o], pixels[o + 1], pixels[o + 2])
        }
        set {
            precondition(x >= 0 && x < width && y >= 0 && y < height, "pixel (\(x), \(y)) outside \(width)×\(height)")
            let o = offset(x: x, y: y)
            pixels[o] = newValue.r
            pixels[o + 1] = newValue.g
            pixels[o + 2] = newValue.b
        }
    }
}
