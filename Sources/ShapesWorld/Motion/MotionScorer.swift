import Imaging

/// Rule-based scoring of a clip against a moving-shapes prompt: what is drawn, and whether it moves as asked.
///
///     appearance = mean over frames of ShapeScorer's reward for the still prompt
///     motion     = clamp(along / (½ · travel), 0, 1) − clamp(|across| / travel, 0, ½)
///     reward     = ½ · appearance + ½ · max(motion, 0)
///
/// where `along` and `across` are the displacement, from the first frame to the last, of the centroid of the objects
/// whose colour the prompt names, measured along and across the prompt's direction, and `travel` the distance the
/// renderer moves objects over the clip. A still clip and one moving the other way get no motion credit; a clip
/// drawn by ``MovingShapeRenderer`` scores 1. `correct` holds when every frame is correct and the motion is full.
public struct MotionScorer: Sendable {
    public let scorer: ShapeScorer
    /// The travel a correct clip shows (``MovingShapeRenderer/travel``).
    public let travel: Int

    public init(scorer: ShapeScorer = .standard, travel: Int) {
        self.scorer = scorer
        self.travel = travel
    }

    public struct Score: Sendable {
        public var reward: Double
        public var appearance: Double
        public var motion: Double
        public var correct: Bool
    }

    public func score(_ frames: [RGBImage], _ prompt: MovingPrompt) -> Score {
        guard let first = frames.first, let last = frames.last, frames.count >= 2 else {
            return Score(reward: 0, appearance: 0, motion: 0, correct: false)
        }
        let stills = frames.map { scorer.score($0, prompt.spec) }
        let appearance = stills.map(\.reward).reduce(0, +) / Double(stills.count)
        let colours = Set(prompt.spec.groups.map(\.color))
        func centroid(_ image: RGBImage) -> (x: Double, y: Double)? {
            let objects = scorer.detect(image).filter { colours.contains($0.color) }
            guard !objects.isEmpty else { return nil }
            let total = Double(objects.reduce(0) { $0 + $1.area })
            return (
                objects.reduce(0) { $0 + $1.centerX * Double($1.area) } / total,
                objects.reduce(0) { $0 + $1.centerY * Double($1.area) } / total
            )
        }
        var motion = 0.0
        if let a = centroid(first), let b = centroid(last), travel > 0 {
            let (dx, dy) = prompt.direction.step
            let along = (b.x - a.x) * Double(dx) + (b.y - a.y) * Double(dy)
            let across = abs((b.x - a.x) * Double(dy) - (b.y - a.y) * Double(dx))
            motion = min(max(along / (0.5 * Double(travel)), 0), 1) - min(across / Double(travel), 0.5)
        }
        let credit = max(motion, 0)
        return Score(
            reward: 0.5 * appearance + 0.5 * credit, appearance: appearance, motion: credit,
            correct: stills.allSatisfy(\.correct) && credit >= 1)
    }
}
