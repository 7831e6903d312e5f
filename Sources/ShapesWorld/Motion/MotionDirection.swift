/// Where every object of a moving-shapes prompt travels, in image coordinates (y grows downwards).
public enum MotionDirection: String, CaseIterable, Sendable, Codable {
    case left, right, up, down

    /// The unit step: (−1, 0) for left, (0, 1) for down.
    public var step: (dx: Int, dy: Int) {
        switch self {
        case .left: return (-1, 0)
        case .right: return (1, 0)
        case .up: return (0, -1)
        case .down: return (0, 1)
        }
    }

    /// "moving left".
    public var phrase: String { "moving \(rawValue)" }
}

/// A moving-shapes prompt: a still prompt of the shapes world whose objects all travel the same way, e.g.
/// "a red circle moving right", "two blue squares moving up".
public struct MovingPrompt: Hashable, Sendable, Codable, CustomStringConvertible {
    public var spec: PromptSpec
    public var direction: MotionDirection

    public init(spec: PromptSpec, direction: MotionDirection) {
        self.spec = spec
        self.direction = direction
    }

    public var text: String { "\(spec.text) \(direction.phrase)" }
    public var description: String { text }

    /// Reads back `text`: a shapes-world prompt followed by "moving left|right|up|down".
    public static func parse(_ text: String) throws -> MovingPrompt {
        let words = text.lowercased().split(whereSeparator: { $0 == " " || $0 == "," || $0 == "." }).map(String.init)
        guard words.count >= 2, words[words.count - 2] == "moving",
            let direction = MotionDirection(rawValue: words[words.count - 1])
        else { throw MotionError.noDirection(prompt: text) }
        return MovingPrompt(
            spec: try PromptParser.parse(words.dropLast(2).joined(separator: " ")), direction: direction)
    }
}

/// A moving-shapes prompt without its motion, or a clip that cannot be laid out.
public enum MotionError: Error, CustomStringConvertible, Equatable, Sendable {
    case noDirection(prompt: String)
    case tooFewFrames(frames: Int)
    case noRoomToMove(travel: Int, imageSize: Int, prompt: String)

    public var description: String {
        switch self {
        case .noDirection(let prompt):
            return
                "'\(prompt)': a moving-shapes prompt ends with 'moving' and left, right, up or down"
        case .tooFewFrames(let frames): return "a moving-shapes clip needs at least 2 frames, got \(frames)"
        case .noRoomToMove(let travel, let size, let prompt):
            return "'\(prompt)': a travel of \(travel) px leaves no room to lay out the shapes in \(size) px"
        }
    }
}
