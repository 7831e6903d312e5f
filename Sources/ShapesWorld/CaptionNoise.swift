/// Captions that do not quite match their images, as web alt-text does not: a colour word that is wrong, objects the
/// caption leaves unsaid. Pretraining on such pairs gives a model that treats the prompt as a hint (it draws the
/// named colour only some of the time, or adds things nobody asked for); following the prompt exactly is then what
/// alignment to the scorer has to teach, as RL on real text-to-image models teaches what noisy captions did not.
public struct CaptionNoise: Sendable, Hashable, Codable {
    /// Chance that each named group is drawn in another colour than its caption says.
    public var wrongColorRate: Double
    /// Chance, per slot, that the image also shows an object the caption does not name.
    public var unmentionedObjectRate: Double
    /// Most unmentioned objects per image.
    public var unmentionedObjectSlots: Int

    public init(wrongColorRate: Double = 0, unmentionedObjectRate: Double = 0, unmentionedObjectSlots: Int = 2) {
        precondition((0...1).contains(wrongColorRate), "the wrong-color rate is a probability, got \(wrongColorRate)")
        precondition((0...1).contains(unmentionedObjectRate), "the unmentioned-object rate is a probability, got \(unmentionedObjectRate)")
        precondition(unmentionedObjectSlots >= 0, "slots of unmentioned objects cannot be negative, got \(unmentionedObjectSlots)")
        self.wrongColorRate = wrongColorRate
        self.unmentionedObjectRate = unmentionedObjectRate
        self.unmentionedObjectSlots = unmentionedObjectSlots
    }

    /// Captions say exactly what is drawn.
    public static let none = CaptionNoise()

    /// What one image captioned with `spec` shows: the spec with some groups recoloured, and unmentioned objects.
    /// Without noise this is `(spec, [])`, so clean pretraining draws the same images it always did.
    public func scene(for spec: PromptSpec, seed: UInt64) -> (shown: PromptSpec, unmentioned: [ObjectGroup]) {
        let shown = recoloured(spec, seed: SeededGenerator.derive(seed, 1))
        return (shown, unmentionedObjects(besides: [spec, shown], seed: SeededGenerator.derive(seed, 2)))
    }

    /// Each group recoloured with probability `wrongColorRate`, to a colour that keeps the groups' colour-shape
    /// pairs distinct; counts, shapes and the relation stay as captioned.
    func recoloured(_ spec: PromptSpec, seed: UInt64) -> PromptSpec {
        guard wrongColorRate > 0 else { return spec }
        var random = SeededGenerator(seed: seed)
        var groups = spec.groups
        for i in groups.indices where random.unit() < wrongColorRate {
            let colours = ShapeColor.allCases.filter { c in
                c != groups[i].color && !groups.indices.contains { $0 != i && groups[$0].color == c && groups[$0].shape == groups[i].shape }
            }
            groups[i].color = colours[random.below(colours.count)]
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
        let candidates = ShapeColor.allCases.flatMap { c in ShapeKind.allCases.map { ObjectGroup(color: c, shape: $0) } }
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
