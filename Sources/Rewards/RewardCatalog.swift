import Engine
import Foundation

/// The rewards a run may name, each with a factory that builds it from the reward checkpoints' locations. `standard`
/// holds what works for any prompt (DDPO's JPEG rewards, the reward models); a world adds its own rewards
/// (the embedded shapes world registers its rule-based scorer), so a trainer only ever sees `any Reward`.
public struct RewardCatalog: Sendable {
    public typealias Factory = @Sendable (RewardLocations) throws -> any Reward

    public struct Entry: Sendable {
        public let name: String
        /// One line for `--help` and errors.
        public let summary: String
        let make: Factory
    }

    public private(set) var entries: [Entry] = []

    public init() {}

    public var names: [String] { entries.map(\.name) }

    /// Adds (or replaces) the reward `name`.
    public mutating func register(_ name: String, summary: String, factory: @escaping Factory) {
        entries.removeAll { $0.name == name }
        entries.append(Entry(name: name, summary: summary, make: factory))
    }

    /// JPEG (in)compressibility and the reward models (HPS-v2.1, PickScore, CLIP score, LAION aesthetic).
    public static var standard: RewardCatalog {
        var catalog = RewardCatalog()
        for direction in JPEGSizeReward.Direction.allCases {
            catalog.register(
                direction.rawValue,
                summary:
                    """
                    DDPO's quality-95 JPEG size in kB, \(direction == .compressibility ? "smaller" : "larger") is better
                    """
            ) { _ in
                JPEGSizeReward(direction)
            }
        }
        for name in RewardRegistry.names {
            catalog.register(name, summary: "the \(name) reward model") { locations in
                try RewardRegistry.makeModel(name, locations: locations)
            }
        }
        for head in VideoAlignReward.Head.allCases {
            catalog.register(
                head.rewardName, summary: "VideoAlign's \(head.rawValue.uppercased()), normalised (videos)"
            ) {
                locations in
                let folder = locations.videoAlignModel ?? locations.directory.appendingPathComponent("videoalign_ckpt")
                guard RewardFiles.exists(folder) else {
                    throw RewardError.missingFile(
                        path: folder.path,
                        expected: "VideoAlign's checkpoint folder (KwaiVGI/VideoReward: model_config.json, "
                            + "checkpoint-<N>/, Qwen2-VL-2B-Instruct/), videoalign_ckpt/ under the reward folder")
                }
                return VideoAlignReward(
                    head: head, scorer: try .shared(folder: folder, base: locations.videoAlignBase))
            }
        }
        return catalog
    }

    /// Builds the rewards of a `name[:weight],…` list, in its order.
    public func makeSet(_ list: String, locations: RewardLocations = RewardLocations()) throws -> RewardSet {
        try RewardSet(specification: list, locations: locations, catalog: self)
    }

    /// Builds the reward `name` from `locations`.
    public func make(_ name: String, locations: RewardLocations) throws -> any Reward {
        guard let entry = entries.first(where: { $0.name == name }) else {
            throw RewardError.invalidSpecification(
                "unknown reward '\(name)' (available: \(names.joined(separator: ", ")))")
        }
        return try entry.make(locations)
    }
}
