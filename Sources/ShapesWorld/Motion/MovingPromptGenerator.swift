import SeededRandom

/// Draws moving-shapes prompts: a still prompt of the catalogue's split (``PromptGenerator`` over `kinds`) and a
/// direction. A moving prompt is held out exactly when its still prompt is, so held-out evaluation asks for colour,
/// shape and count combinations never seen in training, in every direction.
public struct MovingPromptGenerator: Sendable {
    /// The still prompts the world moves: counting (one to four objects of one kind) and binding (two kinds).
    /// Relations are left out: "a red circle left of a blue square moving right" puts two directions in one prompt,
    /// and a tiny video model must learn motion first.
    public static let kinds: [PromptKind] = [.counting, .binding]

    private var stills: PromptGenerator
    private var directions: SeededGenerator

    public init(seed: UInt64, split: PromptCatalog.Split = .train, kinds: [PromptKind] = Self.kinds) {
        stills = PromptGenerator(seed: seed, split: split, kinds: kinds)
        directions = SeededGenerator(seed: SeededGenerator.derive(seed, 0x4D4F5645))
    }

    public mutating func next() -> MovingPrompt {
        let spec = stills.next()
        return MovingPrompt(spec: spec, direction: MotionDirection.allCases[directions.below(4)])
    }

    public mutating func next(_ count: Int) -> [MovingPrompt] {
        (0..<count).map { _ in next() }
    }
}

/// Captions whose motion is wrong, as web video captions are loose about what moves where: with probability
/// `wrongDirectionRate` a training clip shows its objects moving one of the three other directions (uniformly). A
/// model pretrained on such pairs follows the caption's direction only part of the time, which is what alignment to
/// the motion scorer has to teach.
public struct MotionNoise: Sendable, Hashable, Codable {
    public var wrongDirectionRate: Double

    public init(wrongDirectionRate: Double = 0) {
        precondition(
            (0...1).contains(wrongDirectionRate), "the wrong-direction rate is a probability, got \(wrongDirectionRate)"
        )
        self.wrongDirectionRate = wrongDirectionRate
    }

    public static let none = MotionNoise()

    /// The prompt one clip captioned `prompt` shows (the same prompt without noise).
    public func shown(for prompt: MovingPrompt, seed: UInt64) -> MovingPrompt {
        guard wrongDirectionRate > 0 else { return prompt }
        var random = SeededGenerator(seed: SeededGenerator.derive(seed, 4))
        guard random.unit() < wrongDirectionRate else { return prompt }
        let others = MotionDirection.allCases.filter { $0 != prompt.direction }
        return MovingPrompt(spec: prompt.spec, direction: others[random.below(others.count)])
    }
}
