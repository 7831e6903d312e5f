import Foundation

/// How clearly the objects drawn in a prompt's colours have the prompt's shapes: a graded version of the shape test
/// `ShapeScorer` applies, as a training reward beside it (`--reward shapes,shapes-form:…`). The scorer's verdict on a
/// shape flips at a threshold of the region's fill and bottom share, so rollouts that differ in how square a square
/// is mostly get the same verdict and GRPO sees no difference to learn from; this credit changes with every pixel.
///
/// For each group g (colour c_g, shape s_g, count k_g), in order, the k_g not yet taken objects of colour c_g with the
/// largest margin m into s_g's region (`ShapeClassifier.margin`) are taken:
///
///     form   = Σ_g Σ_{taken o} sigmoid(m(o, s_g) / 0.05) / Σ_g k_g
///
/// A missing object adds 0, so drawing fewer objects never raises it; objects in colours the prompt does not name
/// are ignored (colours and counts are the partial credit's business). A clear square (fill 1) scores 0.9 as a
/// square, a clear circle (fill 0.79, bottom share 0.5) 0.86 as a circle, a square-ish circle (fill 0.86) 0.6.
public enum ShapeFormCredit {
    static let softness = 0.05

    public static func credit(objects: [DetectedObject], _ spec: PromptSpec) -> Double {
        let classifier = ShapeClassifier()
        var available = Array(objects.indices)
        var total = 0.0, asked = 0
        for group in spec.groups {
            asked += group.count
            let graded = available.filter { objects[$0].color == group.color }.map { i -> (index: Int, value: Double) in
                let o = objects[i]
                let m = classifier.margin(
                    to: group.shape, fill: o.fill, bottomShare: o.bottomShare, width: o.width, height: o.height)
                return (i, 1 / (1 + exp(-m / softness)))
            }
            // Largest first; ties by detection order so the credit never depends on sort stability.
            let taken = graded.sorted { ($0.value, $1.index) > ($1.value, $0.index) }.prefix(group.count)
            total += taken.map(\.value).reduce(0, +)
            available.removeAll { i in taken.contains { $0.index == i } }
        }
        return asked == 0 ? 0 : total / Double(asked)
    }
}
