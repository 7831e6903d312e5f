import Imaging

/// Rule-based, GenEval-style scoring of an image against a prompt spec.
///
/// Detection: the background is estimated from the image border; each pixel takes the palette colour whose line from
/// the background it lies on, at least half-way to the colour and within `maximumColorDistance` of that line (else it
/// is background; see `ColorSegmentation`); pixels of one colour within `linkReach` of each other form a region (so a
/// speckled shape reads as one object); regions smaller than `minimumAreaFraction` of the image are dropped as specks;
/// each remaining region is classified as circle, square, triangle or nothing (`ShapeClassifier`).
///
/// Reward, for a spec with groups g (colour, shape, count k_g) and n_g detected objects matching g exactly:
///
///     present_g = (min(n_g, k_g) + ½ · m_g) / k_g      m_g: near misses credited to g (below)
///     exact_g   = 1 if n_g = k_g else 0
///     relation  = 1 if both objects are found and stand in the relation, else 0 (relation prompts only)
///     base      = (Σ_g (present_g + exact_g) + 2 · relation) / (2 · G + 2 · [relation prompt])
///     reward    = base / (1 + ½ · extras)
///
/// A near miss is a detected object that matches no group but shares the colour or the shape of a group that is
/// short of objects; each such object fills at most one missing slot, same colour preferred. `extras` counts detected
/// objects that are neither matches nor near misses. So: a blank image scores 0; a wrong count scores ½ (too many)
/// or ¼ ("two" asked, one drawn); a wrong colour or shape ¼ for a single object; a swapped relation ⅔; a correct
/// image 1. `correct` (GenEval's binary score) holds exactly when reward = 1.
public struct ShapeScorer: Sendable {
    public struct Options: Sendable, Hashable {
        /// Largest RGB distance from the line between background and a palette colour for a pixel to take that
        /// colour. Palette colours are ≥ 120 apart, so 60 keeps their regions apart.
        public var maximumColorDistance: Double
        /// Regions smaller than this share of the image area (and never below 4 pixels) are ignored.
        public var minimumAreaFraction: Double
        /// Relation margin: the centres must differ along the relation's axis by more than this fraction of the two
        /// objects' summed extents on that axis (a quarter = half their mean size).
        public var relationMargin: Double
        /// Pixels of one colour within this Chebyshev distance form one object (see `ConnectedComponents`): 1 is
        /// 8-connectivity; 2 would also read a speckled blob as one object (the renderer keeps shapes ≥ 2 pixels
        /// apart) but lets 3×3-blurred neighbours merge, so it is not the default.
        public var linkReach: Int

        public init(
            maximumColorDistance: Double = 60, minimumAreaFraction: Double = 0.01, relationMargin: Double = 0.25,
            linkReach: Int = 1
        ) {
            self.maximumColorDistance = maximumColorDistance
            self.minimumAreaFraction = minimumAreaFraction
            self.relationMargin = relationMargin
            self.linkReach = linkReach
        }
    }

    public let options: Options
    private let segmentation: ColorSegmentation
    private let classifier = ShapeClassifier()

    public init(options: Options = Options()) {
        self.options = options
        segmentation = ColorSegmentation(maximumDistance: options.maximumColorDistance)
    }

    /// Shared scorer with the default options.
    public static let standard = ShapeScorer()

    /// The shapes found in `image`, largest first.
    public func detect(_ image: RGBImage) -> [DetectedObject] {
        let labels = segmentation.labels(image)
        let minimumArea = max(4, Int(options.minimumAreaFraction * Double(image.width * image.height)))
        return ConnectedComponents.find(
            labels: labels, width: image.width, height: image.height, reach: options.linkReach
        )
        .filter { $0.area >= minimumArea }
        .map { c in
            let fill = Double(c.spanArea) / Double(c.width * c.height)
            let bottomShare = Double(c.doubledBottomSpanCount) / Double(2 * c.spanArea)
            return DetectedObject(
                color: ShapeColor(rawValue: Int(c.label) - 1)!,
                shape: classifier.classify(fill: fill, bottomShare: bottomShare, width: c.width, height: c.height),
                area: c.area, x: c.minX, y: c.minY, width: c.width, height: c.height,
                centerX: c.centerX, centerY: c.centerY, fill: fill, bottomShare: bottomShare)
        }
        .sorted { ($0.area, $1.y, $1.x) > ($1.area, $0.y, $0.x) }
    }

    public func score(_ image: RGBImage, _ spec: PromptSpec) -> ShapeScore {
        score(objects: detect(image), spec)
    }

    /// Parses the prompt, then scores.
    public func score(_ image: RGBImage, prompt: String) throws -> ShapeScore {
        score(image, try PromptParser.parse(prompt))
    }

    /// The reward formula applied to already detected objects.
    public func score(objects: [DetectedObject], _ spec: PromptSpec) -> ShapeScore {
        let groups = spec.groups
        var groupOfObject = [Int?](repeating: nil, count: objects.count)
        for (i, o) in objects.enumerated() {
            groupOfObject[i] = groups.firstIndex { $0.color == o.color && $0.shape == o.shape }
        }
        let matched = groups.indices.map { g in groupOfObject.filter { $0 == g }.count }

        // Near misses: unmatched objects sharing the colour (first) or the shape (then) of a group short of objects.
        var unmatched = objects.indices.filter { groupOfObject[$0] == nil }
        var nearMisses = [Int](repeating: 0, count: groups.count)
        for sameColour in [true, false] {
            for (g, group) in groups.enumerated() {
                while matched[g] + nearMisses[g] < group.count,
                    let k = unmatched.firstIndex(where: {
                        sameColour ? objects[$0].color == group.color : objects[$0].shape == group.shape
                    })
                {
                    unmatched.remove(at: k)
                    nearMisses[g] += 1
                }
            }
        }

        var credit = 0.0, slots = 0.0
        for (g, group) in groups.enumerated() {
            credit += (Double(min(matched[g], group.count)) + 0.5 * Double(nearMisses[g])) / Double(group.count)
            credit += matched[g] == group.count ? 1 : 0
            slots += 2
        }
        var relationSatisfied: Bool? = nil
        if let relation = spec.relation {
            // Largest object of each group (objects are sorted largest first).
            let first = objects.indices.first { groupOfObject[$0] == 0 }.map { objects[$0] }
            let second = objects.indices.first { groupOfObject[$0] == 1 }.map { objects[$0] }
            let holds = first.flatMap { a in second.map { b in stands(a, relation, b) } } ?? false
            relationSatisfied = holds
            credit += holds ? 2 : 0
            slots += 2
        }
        let extras = unmatched.count
        let reward = credit / slots / (1 + 0.5 * Double(extras))
        let correct = extras == 0 && (relationSatisfied ?? true) && zip(matched, groups).allSatisfy { $0 == $1.count }
        return ShapeScore(
            reward: correct ? 1 : min(reward, 1), correct: correct, objects: objects,
            matchedCounts: matched, extraObjects: extras, relationSatisfied: relationSatisfied)
    }

    /// Whether `a` stands in `relation` to `b`: centres apart along the axis by more than the margin (y grows down).
    func stands(_ a: DetectedObject, _ relation: SpatialRelation, _ b: DetectedObject) -> Bool {
        switch relation {
        case .leftOf: return b.centerX - a.centerX > options.relationMargin * Double(a.width + b.width)
        case .rightOf: return a.centerX - b.centerX > options.relationMargin * Double(a.width + b.width)
        case .above: return b.centerY - a.centerY > options.relationMargin * Double(a.height + b.height)
        case .below: return a.centerY - b.centerY > options.relationMargin * Double(a.height + b.height)
        }
    }
}
