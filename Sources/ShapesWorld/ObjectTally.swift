/// Per-image means over a set of scored images, of what the scorer found against what the prompts asked: what a
/// partial-credit mean can hide (a model hedging with extra shapes, or drawing the right count in the wrong colour).
public struct ObjectTally: Sendable, Equatable {
    /// Images tallied.
    public var images = 0
    /// Detected objects per image.
    public var found = 0.0
    /// Objects the prompts name, per image.
    public var asked = 0.0
    /// Objects per image that neither match a group nor count as a near miss.
    public var extras = 0.0
    /// Share of the detected objects whose colour the prompt names (for any of its groups); 0 when none was found.
    public var namedColourShare = 0.0
    /// Share of the detected objects whose shape the prompt names; 0 when none was found.
    public var namedShapeShare = 0.0

    public init(_ scored: [(score: ShapeScore, spec: PromptSpec)]) {
        guard !scored.isEmpty else { return }
        let n = Double(scored.count)
        images = scored.count
        found = Double(scored.map { $0.score.objects.count }.reduce(0, +)) / n
        asked = Double(scored.map { $0.spec.objectCount }.reduce(0, +)) / n
        extras = Double(scored.map { $0.score.extraObjects }.reduce(0, +)) / n
        let drawn = scored.flatMap { s in s.score.objects.map { (object: $0, spec: s.spec) } }
        guard !drawn.isEmpty else { return }
        let share = { (named: (DetectedObject, ObjectGroup) -> Bool) in
            Double(drawn.filter { d in d.spec.groups.contains { named(d.object, $0) } }.count) / Double(drawn.count)
        }
        namedColourShare = share { $0.color == $1.color }
        namedShapeShare = share { $0.shape == $1.shape }
    }
}
