/// One kind of object in a prompt: `count` shapes of one colour.
public struct ObjectGroup: Hashable, Sendable, Codable, CustomStringConvertible {
    public var color: ShapeColor
    public var shape: ShapeKind
    public var count: Int

    public init(color: ShapeColor, shape: ShapeKind, count: Int = 1) {
        self.color = color
        self.shape = shape
        self.count = count
    }

    /// "a red circle", "three blue squares".
    public var text: String {
        "\(CountWords.word(for: count)) \(color.name) \(count == 1 ? shape.name : shape.plural)"
    }

    public var description: String { text }
}

/// The three prompt families, after GenEval's counting, position and colour-attribution tasks.
public enum PromptKind: String, CaseIterable, Sendable, Codable {
    /// "two red circles": one group, count 1–4.
    case counting
    /// "a blue square left of a yellow triangle": two single objects and a relation.
    case relation
    /// "a red circle and a green square": two single objects, each colour bound to its shape.
    case binding
}

/// A structured prompt: which objects the image must contain (exactly: nothing else may appear) and, for two-object
/// prompts, where the first lies relative to the second.
public struct PromptSpec: Hashable, Sendable, Codable, CustomStringConvertible {
    public var groups: [ObjectGroup]
    /// Relation of groups[0] to groups[1]; both then hold one object.
    public var relation: SpatialRelation?

    public init(groups: [ObjectGroup], relation: SpatialRelation? = nil) throws {
        guard !groups.isEmpty else { throw PromptError("a prompt needs at least one object") }
        for g in groups where !(1...CountWords.maximum).contains(g.count) {
            throw PromptError("count \(g.count) of \(g.color) \(g.shape.plural) is outside 1...\(CountWords.maximum)")
        }
        for (i, g) in groups.enumerated()
        where groups[..<i].contains(where: { $0.color == g.color && $0.shape == g.shape }) {
            throw PromptError("\(g.color) \(g.shape.plural) are named twice; describe them once with a count")
        }
        if relation != nil {
            guard groups.count == 2, groups.allSatisfy({ $0.count == 1 }) else {
                throw PromptError("a relation needs exactly two single objects, got \(groups.map(\.text))")
            }
        }
        self.groups = groups
        self.relation = relation
    }

    public static func counting(_ color: ShapeColor, _ shape: ShapeKind, count: Int) throws -> PromptSpec {
        try PromptSpec(groups: [ObjectGroup(color: color, shape: shape, count: count)])
    }

    public static func relation(_ first: ObjectGroup, _ relation: SpatialRelation, _ second: ObjectGroup) throws
        -> PromptSpec
    {
        try PromptSpec(groups: [first, second], relation: relation)
    }

    public static func binding(_ first: ObjectGroup, _ second: ObjectGroup) throws -> PromptSpec {
        try PromptSpec(groups: [first, second])
    }

    public var kind: PromptKind {
        relation != nil ? .relation : groups.count == 1 ? .counting : .binding
    }

    /// Total number of objects the image must contain.
    public var objectCount: Int { groups.reduce(0) { $0 + $1.count } }

    /// The prompt text, which `PromptParser` reads back to the same spec.
    public var text: String {
        if let relation { return "\(groups[0].text) \(relation.phrase) \(groups[1].text)" }
        return groups.map(\.text).joined(separator: " and ")
    }

    public var description: String { text }
}

/// A prompt that cannot be parsed or a spec that cannot exist; the message names the offending words.
public struct PromptError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
