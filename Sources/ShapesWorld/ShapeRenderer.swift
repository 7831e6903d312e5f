import Imaging

/// Draws prompt specs as images: the named shapes at random, non-overlapping places and sizes (seeded), on a plain
/// background, relations satisfied with a clear gap.
public struct ShapeRenderer: Sendable {
    public struct Options: Sendable, Hashable {
        /// Image side in pixels.
        public var size: Int
        public var background: RGB
        /// 4×4 supersampled edges. Off by default: hard edges keep every ink pixel an exact palette colour.
        public var antialiased: Bool

        public init(size: Int = 32, background: RGB = .white, antialiased: Bool = false) {
            self.size = size
            self.background = background
            self.antialiased = antialiased
        }

        /// Smallest and largest shape side: about 22% and 34% of the image (at least 7 pixels, so that shapes stay
        /// recognisable at 32 px).
        var shapeSizes: ClosedRange<Int> {
            let smallest = max(7, Int((0.22 * Double(size)).rounded()))
            return smallest...max(smallest, Int(0.34 * Double(size)))
        }

        /// Minimum blank pixels between two shapes' bounding boxes.
        var gap: Int { max(2, size / 16) }
        /// Minimum blank pixels between a shape and the image border.
        var margin: Int { 1 }
    }

    public let options: Options

    public init(options: Options = Options()) {
        self.options = options
    }

    public init(size: Int, background: RGB = .white, antialiased: Bool = false) {
        self.init(options: Options(size: size, background: background, antialiased: antialiased))
    }

    /// The image for `spec`; the same spec and seed always give the same pixels. `unmentioned` objects are drawn as
    /// well, at free places and outside any relation: a scene its caption describes only in part.
    public func render(_ spec: PromptSpec, unmentioned: [ObjectGroup] = [], seed: UInt64) throws -> RGBImage {
        render(try layout(spec, unmentioned: unmentioned, seed: seed))
    }

    /// Where the shapes of `spec` go: the spec's groups in order, then the `unmentioned` objects.
    public func layout(_ spec: PromptSpec, unmentioned: [ObjectGroup] = [], seed: UInt64) throws -> [PlacedShape] {
        let objects = (spec.groups + unmentioned).flatMap { g in Array(repeating: (g.color, g.shape), count: g.count) }
        var random = SeededGenerator(seed: seed)
        var sizes = options.shapeSizes
        // Crowded scenes get smaller shapes: with k shapes per row, each fits in about size / (k + 1).
        let perRow = Int(Double(objects.count).squareRoot().rounded(.up))
        sizes = sizes.lowerBound...max(sizes.lowerBound, min(sizes.upperBound, options.size / (perRow + 1)))
        while true {
            for _ in 0..<200 {
                if let placed = tryPlacing(objects, sizes: sizes, relation: spec.relation, random: &random) {
                    return placed
                }
            }
            // Rejection sampling failed many times: shrink the shapes and try again.
            guard sizes.lowerBound > 5 else {
                throw PromptError.cannotPlace(objectCount: objects.count, imageSize: options.size, prompt: spec.text)
            }
            sizes = (sizes.lowerBound - 1)...max(sizes.lowerBound - 1, sizes.upperBound - 1)
        }
    }

    private func tryPlacing(
        _ objects: [(ShapeColor, ShapeKind)], sizes: ClosedRange<Int>, relation: SpatialRelation?,
        random: inout SeededGenerator
    ) -> [PlacedShape]? {
        var placed: [PlacedShape] = []
        for (index, (color, shape)) in objects.enumerated() {
            var found: PlacedShape? = nil
            for _ in 0..<100 {
                let side = random.integer(in: sizes)
                let limit = options.size - options.margin - side
                guard limit >= options.margin else { return nil }
                let candidate = PlacedShape(
                    color: color, shape: shape, x: random.integer(in: options.margin...limit),
                    y: random.integer(in: options.margin...limit), size: side)
                guard placed.allSatisfy({ candidate.isSeparated(from: $0, gap: options.gap) }) else { continue }
                if let relation, index == 1, !placed[0].satisfies(relation, candidate, gap: options.gap) { continue }
                found = candidate
                break
            }
            guard let found else { return nil }
            placed.append(found)
        }
        return placed
    }

    /// Draws placed shapes on the background (no checks: overlapping or out-of-bounds shapes are drawn as given, which
    /// tests use to build deliberately wrong images).
    public func render(_ shapes: [PlacedShape]) -> RGBImage {
        var image = RGBImage(width: options.size, height: options.size, fill: options.background)
        let n = options.size
        for shape in shapes {
            let x0 = max(0, shape.x - 1), x1 = min(n, shape.x + shape.size + 1)
            let y0 = max(0, shape.y - 1), y1 = min(n, shape.y + shape.size + 1)
            guard x0 < x1, y0 < y1 else { continue }
            for py in y0..<y1 {
                for px in x0..<x1 {
                    let c = shape.coverage(px: px, py: py, antialiased: options.antialiased)
                    if c == 0 { continue }
                    let under = image[px, py]
                    image[px, py] = c == 1 ? shape.color.rgb : under.blended(with: shape.color.rgb, weight: c)
                }
            }
        }
        return image
    }
}
