import Foundation

/// One reward of a `--reward` list: its name and its weight in the combined advantage (each reward normalised per
/// group, then the weighted sum; or the weighted sum normalised, with `rewardCombination` reward).
public struct RewardSpec: Equatable, Sendable, CustomStringConvertible {
    public var name: String
    public var weight: Double

    public init(name: String, weight: Double = 1) {
        self.name = name
        self.weight = weight
    }

    public var description: String { weight == 1 ? name : "\(name):\(weight)" }

    /// Parses `"shapes,hpsv2.1:0.5"`: comma-separated names (case-insensitive), each with an optional `:weight`
    /// (default 1). Order is kept; a name may appear once; weights must be finite numbers. The one parser of
    /// `train --reward`, `score --reward` and config files; which names exist is the catalog's business.
    public static func parseList(_ text: String) throws -> [RewardSpec] {
        var specs: [RewardSpec] = []
        for rawItem in text.split(separator: ",", omittingEmptySubsequences: false) {
            let item = rawItem.trimmingCharacters(in: .whitespaces)
            guard !item.isEmpty else {
                throw RewardError.invalidSpecification(
                    """
                    reward list '\(text)': empty entry (expected name[:weight],…)
                    """)
            }
            let parts = item.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            let name = parts[0].trimmingCharacters(in: .whitespaces).lowercased()
            var weight = 1.0
            if parts.count == 2 {
                let weightText = parts[1].trimmingCharacters(in: .whitespaces)
                guard let value = Double(weightText), value.isFinite else {
                    throw RewardError.invalidSpecification(
                        "reward '\(name)': weight '\(weightText)' is not a finite number")
                }
                weight = value
            }
            guard !specs.contains(where: { $0.name == name }) else {
                throw RewardError.invalidSpecification("reward '\(name)' is listed twice in '\(text)'")
            }
            specs.append(RewardSpec(name: name, weight: weight))
        }
        guard !specs.isEmpty else { throw RewardError.invalidSpecification("empty reward list") }
        return specs
    }
}
