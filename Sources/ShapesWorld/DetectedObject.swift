import Foundation

/// A shape the scorer found in an image.
public struct DetectedObject: Hashable, Sendable, Codable, CustomStringConvertible {
    public var color: ShapeColor
    /// nil when the region fits none of the shapes (a blob, a smear, a fragment).
    public var shape: ShapeKind?
    public var area: Int
    /// Bounding box: left, top, width, height in pixels.
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int
    /// Centroid of the region's pixels.
    public var centerX: Double
    public var centerY: Double
    /// area / (width × height): ≈ 1 for squares, π/4 for circles, ½ for triangles.
    public var fill: Double
    /// Share of the pixels in the lower half of the bounding box: ≈ ½ for symmetric shapes, ¾ for an upright
    /// triangle.
    public var bottomShare: Double

    public var description: String {
        "\(color) \(shape?.name ?? "blob") at (\(x), \(y)) \(width)×\(height), fill \(String(format: "%.2f", fill))"
    }
}
