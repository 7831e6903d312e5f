/// The scorer's partial credit with shapes and relations left out: how well an image's objects match the colours and
/// counts a prompt names. A training reward beside `ShapeScorer`'s (`--reward shapes,shapes-colour:…`) for models
/// whose error is mostly colour, where the full credit mixes the colour signal with the shape classifier's verdicts.
///
/// For each colour c the prompt names, K_c objects asked in it (summed over its groups) and n_c detected in it:
///
///     present_c = min(n_c, K_c) / K_c
///     extras    = Σ_c max(0, n_c − K_c) + objects in colours the prompt does not name
///     credit    = mean_c present_c / (1 + ½ · extras)
///
/// So the right colours in the right numbers score 1 whatever their shapes; a blank image 0, and so does a blue
/// object for "a red circle"; "two red circles" drawn as one red square and one blue circle ½ / 1.5 = ⅓.
public enum ColourCredit {
    public static func credit(objects: [DetectedObject], _ spec: PromptSpec) -> Double {
        var asked: [ShapeColor: Int] = [:]
        for group in spec.groups { asked[group.color, default: 0] += group.count }
        var drawn: [ShapeColor: Int] = [:]
        for object in objects { drawn[object.color, default: 0] += 1 }
        var present = 0.0, extras = 0
        // In palette order: a dictionary's order changes between processes, and the sum must not.
        for (colour, k) in asked.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            let n = drawn[colour] ?? 0
            present += Double(min(n, k)) / Double(k)
            extras += max(0, n - k)
        }
        extras += drawn.filter { asked[$0.key] == nil }.map(\.value).reduce(0, +)
        return present / Double(asked.count) / (1 + 0.5 * Double(extras))
    }
}
