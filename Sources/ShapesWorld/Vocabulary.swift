import Imaging

/// The colours of the shapes world. The RGB values are at least 120 apart (Euclidean) from each other and from the
/// white or light-grey backgrounds, and the blend of any of them with the background never comes within 100 of
/// another, so colour segmentation stays unambiguous even at anti-aliased edges.
public enum ShapeColor: Int, CaseIterable, Sendable, Codable, CustomStringConvertible {
    case red, green, blue, yellow, purple, cyan

    public var name: String {
        switch self {
        case .red: return "red"
        case .green: return "green"
        case .blue: return "blue"
        case .yellow: return "yellow"
        case .purple: return "purple"
        case .cyan: return "cyan"
        }
    }

    public var rgb: RGB {
        switch self {
        case .red: return RGB(220, 40, 40)
        case .green: return RGB(40, 170, 50)
        case .blue: return RGB(40, 70, 230)
        case .yellow: return RGB(240, 210, 30)
        case .purple: return RGB(150, 50, 180)
        case .cyan: return RGB(40, 200, 210)
        }
    }

    public init?(name: String) {
        guard let color = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = color
    }

    public var description: String { name }
}

/// The shapes: drawn axis-aligned, as large as they are wide, triangles with the apex up.
public enum ShapeKind: Int, CaseIterable, Sendable, Codable, CustomStringConvertible {
    case circle, square, triangle

    public var name: String {
        switch self {
        case .circle: return "circle"
        case .square: return "square"
        case .triangle: return "triangle"
        }
    }

    public var plural: String { name + "s" }

    /// Accepts the singular or plural noun.
    public init?(noun: String) {
        guard let kind = Self.allCases.first(where: { $0.name == noun || $0.plural == noun }) else { return nil }
        self = kind
    }

    public var description: String { name }
}

/// Where the first object of a two-object prompt lies relative to the second.
public enum SpatialRelation: Int, CaseIterable, Sendable, Codable, CustomStringConvertible {
    case leftOf, rightOf, above, below

    /// The words used in prompts.
    public var phrase: String {
        switch self {
        case .leftOf: return "left of"
        case .rightOf: return "right of"
        case .above: return "above"
        case .below: return "below"
        }
    }

    public var inverse: SpatialRelation {
        switch self {
        case .leftOf: return .rightOf
        case .rightOf: return .leftOf
        case .above: return .below
        case .below: return .above
        }
    }

    public var isHorizontal: Bool { self == .leftOf || self == .rightOf }

    public var description: String { phrase }
}

/// Number words: "a"/"an"/"one" = 1 up to "four".
public enum CountWords {
    public static let maximum = 4
    static let words: [String: Int] = ["a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4]

    /// The word the prompt generator writes: "a" for one (no colour starts with a vowel), else the number word.
    public static func word(for count: Int) -> String {
        precondition((1...maximum).contains(count), "counts run from 1 to \(maximum), got \(count)")
        return ["a", "two", "three", "four"][count - 1]
    }

    public static func count(for word: String) -> Int? {
        if let n = words[word] { return n }
        if let n = Int(word), (1...maximum).contains(n) { return n }
        return nil
    }
}
