/// One shape in a scene: its colour and kind, and its square bounding box in pixels (top-left x, y and side).
public struct PlacedShape: Hashable, Sendable, Codable {
    public var color: ShapeColor
    public var shape: ShapeKind
    public var x: Int
    public var y: Int
    public var size: Int

    public init(color: ShapeColor, shape: ShapeKind, x: Int, y: Int, size: Int) {
        self.color = color
        self.shape = shape
        self.x = x
        self.y = y
        self.size = size
    }

    public var centerX: Double { Double(x) + Double(size) / 2 }
    public var centerY: Double { Double(y) + Double(size) / 2 }

    /// How much of the pixel square [px, px+1) × [py, py+1) the shape covers: exactly 0 or 1 from its centre point,
    /// or a 4×4 supersampled fraction when `antialiased`.
    func coverage(px: Int, py: Int, antialiased: Bool) -> Double {
        guard antialiased else { return contains(Double(px) + 0.5, Double(py) + 0.5) ? 1 : 0 }
        var inside = 0
        for sy in 0..<4 {
            for sx in 0..<4 where contains(Double(px) + (Double(sx) + 0.5) / 4, Double(py) + (Double(sy) + 0.5) / 4) {
                inside += 1
            }
        }
        return Double(inside) / 16
    }

    /// Whether the point (in pixel units, y down) lies inside the shape.
    func contains(_ px: Double, _ py: Double) -> Bool {
        let s = Double(size), left = Double(x), top = Double(y)
        switch shape {
        case .square:
            return px >= left && px < left + s && py >= top && py < top + s
        case .circle:
            let dx = px - (left + s / 2), dy = py - (top + s / 2)
            return dx * dx + dy * dy <= s * s / 4
        case .triangle:
            // Apex at the top centre, base along the bottom edge: the half-width grows from 0 to s/2.
            return py >= top && py <= top + s && abs(px - (left + s / 2)) <= (py - top) / 2
        }
    }

    /// Whether the bounding boxes, each grown by `gap` / 2, stay apart.
    func isSeparated(from other: PlacedShape, gap: Int) -> Bool {
        x + size + gap <= other.x || other.x + other.size + gap <= x
            || y + size + gap <= other.y || other.y + other.size + gap <= y
    }

    /// Whether `self` stands in `relation` to `other` with a clear gap along that axis (bounding boxes not
    /// overlapping in that direction).
    func satisfies(_ relation: SpatialRelation, _ other: PlacedShape, gap: Int) -> Bool {
        switch relation {
        case .leftOf: return x + size + gap <= other.x
        case .rightOf: return other.x + other.size + gap <= x
        case .above: return y + size + gap <= other.y
        case .below: return other.y + other.size + gap <= y
        }
    }
}
