/// One 8-bit sRGB colour.
public struct RGB: Hashable, Sendable, CustomStringConvertible {
    public var r: UInt8
    public var g: UInt8
    public var b: UInt8

    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) {
        self.r = r
        self.g = g
        self.b = b
    }

    public static let white = RGB(255, 255, 255)
    public static let black = RGB(0, 0, 0)
    public static let lightGrey = RGB(230, 230, 230)
    public static let grey = RGB(128, 128, 128)

    /// Squared Euclidean distance in RGB space (integer, so colour tests stay exact).
    public func squaredDistance(to other: RGB) -> Int {
        let dr = Int(r) - Int(other.r), dg = Int(g) - Int(other.g), db = Int(b) - Int(other.b)
        return dr * dr + dg * dg + db * db
    }

    /// `self` mixed with `other`: weight 0 gives self, 1 gives other.
    public func blended(with other: RGB, weight: Double) -> RGB {
        let w = min(1, max(0, weight))
        func mix(_ a: UInt8, _ b: UInt8) -> UInt8 { UInt8((Double(a) * (1 - w) + Double(b) * w).rounded()) }
        return RGB(mix(r, other.r), mix(g, other.g), mix(b, other.b))
    }

    public var description: String { "RGB(\(r), \(g), \(b))" }
}
