/// The scorer's verdict on one image.
public struct ShapeScore: Sendable, CustomStringConvertible {
    /// Partial-credit reward in [0, 1]; exactly 1 when and only when `correct`.
    public var reward: Double
    /// GenEval's binary verdict: every group present with its exact count, nothing else, relation satisfied.
    public var correct: Bool
    /// Shapes found (regions above the minimum area).
    public var objects: [DetectedObject]
    /// Per group of the spec: how many detected objects have its colour and shape.
    public var matchedCounts: [Int]
    /// Detected objects that neither match a group nor were credited as a near miss.
    public var extraObjects: Int
    /// For relation prompts: whether both objects were found and stand in the relation.
    public var relationSatisfied: Bool?

    public var description: String {
        """
        reward \(reward) correct \(correct) counts \(matchedCounts) extras \(extraObjects) relation \
        \(relationSatisfied.map(String.init) ?? "-") objects \(objects)
        """
    }
}
