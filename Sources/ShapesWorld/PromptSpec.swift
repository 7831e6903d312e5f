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
        guard !groups.isEmpty else { throw PromptError.noObjects }
        for g in groups where !(1...CountWords.maximum).contains(g.count) {
            throw PromptError.countOutOfRange(count: g.count, color: g.color, shape: g.shape)
        }
        for (i, g) in groups.enumerated()
        where groups[..<i].contains(where: { $0.color == g.color && $0.shape == g.shape }) {
            throw PromptError.duplicateGroup(color: g.color, shape: g.shape)
        }
        if relation != nil {
            guard groups.count == 2, groups.allSatisfy({ $0.count == 1 }) else {
                throw PromptError.relationNeedsTwoSingleObjects(groups: groups.map(\.text))
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

/// A prompt that cannot be parsed, a spec that cannot exist or a scene that cannot be laid out; the description names
/// the offending words, and `prompt` is the prompt text concerned.
public enum PromptError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The prompt has no words (after commas and periods are dropped).
    case emptyPrompt
    /// Fewer than three words are left where a `<count> <colour> <shape>` group must start; `wordNumber` is 1-based.
    case expectedGroup(wordNumber: Int, prompt: String)
    /// A group's first word is not a count word (a, an, one…four, 1–4).
    case notACount(word: String, prompt: String)
    /// A group's second word is not a colour name.
    case unknownColor(word: String, prompt: String)
    /// A group's third word is not a shape noun.
    case unknownShape(word: String, prompt: String)
    /// After a group comes a word that is neither "and" nor the start of a relation.
    case unexpectedWord(String, prompt: String)
    /// Words are left over after a complete relation prompt.
    case trailingWords(String, prompt: String)
    /// A spec with no object groups.
    case noObjects
    /// A group's count is outside `1...CountWords.maximum`.
    case countOutOfRange(count: Int, color: ShapeColor, shape: ShapeKind)
    /// Two groups name the same colour and shape.
    case duplicateGroup(color: ShapeColor, shape: ShapeKind)
    /// A relation spec that does not have exactly two groups of one object each; `groups` are their texts.
    case relationNeedsTwoSingleObjects(groups: [String])
    /// The renderer could not place the shapes even at the smallest size (thrown by ``ShapeRenderer``).
    case cannotPlace(objectCount: Int, imageSize: Int, prompt: String)

    public var description: String {
        switch self {
        case .emptyPrompt:
            "empty prompt"
        case .expectedGroup(let wordNumber, let prompt):
            "expected '<count> <colour> <shape>' at word \(wordNumber) of '\(prompt)'"
        case .notACount(let word, let prompt):
            "'\(word)' in '\(prompt)' is not a count (expected a, an, one…four)"
        case .unknownColor(let word, let prompt):
            """
            unknown colour '\(word)' in '\(prompt)' (expected one of \
            \(ShapeColor.allCases.map(\.name).joined(separator: ", ")))
            """
        case .unknownShape(let word, let prompt):
            """
            unknown shape '\(word)' in '\(prompt)' (expected one of \
            \(ShapeKind.allCases.map(\.name).joined(separator: ", ")))
            """
        case .unexpectedWord(let word, let prompt):
            """
            unexpected '\(word)' in '\(prompt)' (expected 'and' or a relation such as 'left \
            of')
            """
        case .trailingWords(let words, let prompt):
            "unexpected words after the prompt: '\(words)' in '\(prompt)'"
        case .noObjects:
            "a prompt needs at least one object"
        case .countOutOfRange(let count, let color, let shape):
            "count \(count) of \(color) \(shape.plural) is outside 1...\(CountWords.maximum)"
        case .duplicateGroup(let color, let shape):
            "\(color) \(shape.plural) are named twice; describe them once with a count"
        case .relationNeedsTwoSingleObjects(let groups):
            "a relation needs exactly two single objects, got \(groups)"
        case .cannotPlace(let objectCount, let imageSize, let prompt):
            "cannot place \(objectCount) shapes in a \(imageSize)-pixel image for '\(prompt)'"
        }
    }
}
