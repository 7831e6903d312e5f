/// Every prompt of the world, and its train / held-out split.
///
/// Held-out prompts are combinations never seen in training, while each of their parts is:
/// - counting: colour index + shape index + count ≡ 0 (mod 5), e.g. "three red triangles", "a blue triangle",
///   "four cyan squares" (14 prompts). Each colour-shape pair keeps at least three of its four counts in training,
///   and every count appears in training.
/// - relation and binding: the two objects' colour index + shape index summed over both ≡ 0 (mod 5). Such a pair of
///   objects never appears together in training, in any order or relation; each single object and every relation
///   word still does.
/// Indices are the declaration order: red 0, green 1, blue 2, yellow 3, purple 4, cyan 5; circle 0, square 1,
/// triangle 2. About a fifth of each family is held out (14 of 72 counting, 240 of 1224 relation, 60 of 306 binding).
public enum PromptCatalog {
    public enum Split: String, CaseIterable, Sendable, Codable {
        case train
        case heldOut
    }

    /// All prompts of one family, in a fixed order.
    public static func all(_ kind: PromptKind) -> [PromptSpec] {
        switch kind {
        case .counting:
            return ShapeColor.allCases.flatMap { c in
                ShapeKind.allCases.flatMap { s in
                    (1...CountWords.maximum).map { n in try! PromptSpec.counting(c, s, count: n) }
                }
            }
        case .relation:
            return orderedPairs.flatMap { a, b in
                SpatialRelation.allCases.map { r in try! PromptSpec.relation(a, r, b) }
            }
        case .binding:
            return orderedPairs.map { a, b in try! PromptSpec.binding(a, b) }
        }
    }

    public static func prompts(_ kind: PromptKind, split: Split) -> [PromptSpec] {
        all(kind).filter { self.split(of: $0) == split }
    }

    public static func split(of spec: PromptSpec) -> Split {
        isHeldOut(spec) ? .heldOut : .train
    }

    public static func isHeldOut(_ spec: PromptSpec) -> Bool {
        let sum = spec.groups.reduce(0) { $0 + $1.color.rawValue + $1.shape.rawValue }
        return spec.groups.count == 1 ? (sum + spec.groups[0].count) % 5 == 0 : sum % 5 == 0
    }

    /// Every ordered pair of two different single objects.
    private static let orderedPairs: [(ObjectGroup, ObjectGroup)] = {
        let objects = ShapeColor.allCases.flatMap { c in ShapeKind.allCases.map { ObjectGroup(color: c, shape: $0) } }
        return objects.flatMap { a in objects.filter { $0 != a }.map { (a, $0) } }
    }()
}

/// Draws prompts from the catalog: first a family (uniformly among `kinds`), then a prompt of that family and split.
public struct PromptGenerator: Sendable {
    public let split: PromptCatalog.Split
    public let kinds: [PromptKind]
    private var random: SeededGenerator
    private let pools: [[PromptSpec]]

    public init(seed: UInt64, split: PromptCatalog.Split = .train, kinds: [PromptKind] = PromptKind.allCases) {
        precondition(!kinds.isEmpty, "PromptGenerator needs at least one prompt kind")
        self.split = split
        self.kinds = kinds
        random = SeededGenerator(seed: seed)
        pools = kinds.map { PromptCatalog.prompts($0, split: split) }
    }

    public mutating func next() -> PromptSpec {
        let pool = pools[random.below(pools.count)]
        return pool[random.below(pool.count)]
    }

    public mutating func next(_ count: Int) -> [PromptSpec] {
        (0..<count).map { _ in next() }
    }
}
