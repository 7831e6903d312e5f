/// Captions that do not quite match their images, as web alt-text does not: a colour word that is wrong, objects the
/// caption leaves unsaid. Pretraining on such pairs gives a model that treats the prompt as a hint (it draws the
/// named colour only some of the time, or adds things nobody asked for); following the prompt exactly is then what
/// alignment to the scorer has to teach, as RL on real text-to-image models teaches what noisy captions did not.
public struct CaptionNoise: Sendable, Hashable, Codable {
    /// Chance that each named group is drawn in another colour than its caption says.
    public var wrongColorRate: Double
    /// Chance that each named group is drawn as another shape than its caption says.
    public var wrongShapeRate: Double
    /// Chance, per slot, that the image also shows an object the caption does not name.
    public var unmentionedObjectRate: Double
    /// Most unmentioned objects per image.
    public var unmentionedObjectSlots: Int

    public init(
        wrongColorRate: Double = 0, wrongShapeRate: Double = 0, unmentionedObjectRate: Double = 0,
        unmentionedObjectSlots: Int = 2
    ) {
        precondition((0...1).contains(wrongColorRate), "the wrong-color rate is a probability, got \(wrongColorRate)")
        precondition((0...1).contains(wrongShapeRate), "the wrong-shape rate is a probability, got \(wrongShapeRate)")
        precondition(
            (0...1).contains(unmentionedObjectRate),
            "the unmentioned-object rate is a probability, got \(unmentionedObjectRate)")
        precondition(
            unmentionedObjectSlots >= 0,
            "slots of unmentioned objects cannot be negative, got \(unmentionedObjectSlots)")
        self.wrongColorRate = wrongColorRate
        self.wrongShapeRate = wrongShapeRate
        self.unmentionedObjectRate = unmentionedObjectRate
        self.unmentionedObjectSlots = unmentionedObjectSlots
    }

    /// Captions say exactly what is drawn.
    public static let none = CaptionNoise()

    /// What one image captioned with `spec` shows: the spec with some groups recoloured or reshaped, and unmentioned
    /// objects. Without noise this is `(spec, [])`, so clean pretraining draws the same images it always did; each kind
    /// of noise draws from its own stream, so adding one leaves the draws of the others as they were.
    public func scene(for spec: PromptSpec, seed: UInt64) -> (shown: PromptSpec, unmentioned: [ObjectGroup]) {
        let recoloured = replacing(\.color, in: spec, rate: wrongColorRate, seed: SeededGenerator.derive(seed, 1))
        let shown = replacing(\.shape, in: recoloured, rate: wrongShapeRate, seed: SeededGenerator.derive(seed, 3))
        return (shown, unmentionedObjects(besides: [spec, shown], seed: SeededGenerator.derive(seed, 2)))
    }

    /// Each group's `attribute` (colour or shape) replaced with probability `rate` by another value that keeps the
    /// groups' colour-shape pairs distinct; counts, the other attribute and the relation stay as captioned.
    func replacing<Value: CaseIterable & Equatable>(
        _ attribute: WritableKeyPath<ObjectGroup, Value>, in spec: PromptSpec,
        rate: Double, seed: UInt64
    ) -> PromptSpec {
        guard rate > 0 else { return spec }
        var random = SeededGenerator(seed: seed)
        var groups = spec.groups
        for i in groups.indices where random.unit() < rate {
            let alternatives = Value.allCases.filter { value in
                var changed = groups[i]
                changed[keyPath: attribute] = value
                return value != groups[i][keyPath: attribute]
                    && !groups.indices.contains {
                        $0 != i && groups[$0].color == changed.color && groups[$0].shape == changed.shape
                    }
            }
            guard !alternatives.isEmpty else { continue }
            groups[i][keyPath: attribute] = alternatives[random.below(alternatives.count)]
        }
        // Distinct pairs and unchanged counts keep the spec valid.
        return try! PromptSpec(groups: groups, relation: spec.relation)
    }

    /// Single objects of colour-shape pairs that neither the caption nor the drawn groups name, so the caption stays
    /// true of every count it states; two draws of one pair are one group of two, as renderer and scorer see them.
    func unmentionedObjects(besides specs: [PromptSpec], seed: UInt64) -> [ObjectGroup] {
        guard unmentionedObjectRate > 0, unmentionedObjectSlots > 0 else { return [] }
        var random = SeededGenerator(seed: seed)
        let named = Set(specs.flatMap(\.groups).map { [$0.color.rawValue, $0.shape.rawValue] })
        let candidates = ShapeColor.allCases.flatMap { c in ShapeKind.allCases.map { ObjectGroup(color: c, shape: $0) }
        }
        .filter { !named.contains([$0.color.rawValue, $0.shape.rawValue]) }
        var drawn: [ObjectGroup] = []
        for _ in 0..<unmentionedObjectSlots where random.unit() < unmentionedObjectRate {
            let object = candidates[random.below(candidates.count)]
            if let i = drawn.firstIndex(where: { $0.color == object.color && $0.shape == object.shape }) {
                drawn[i].count += 1
            } else {
                drawn.append(object)
            }
        }
        return drawn
    }
}
