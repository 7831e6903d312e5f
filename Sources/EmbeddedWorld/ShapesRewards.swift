import Foundation
import Imaging
import Rewards
import ShapesWorld

/// The shapes world's rule-based rewards: the scorer's partial credit in [0, 1] (`shapes`), GenEval's binary verdict
/// (`shapes-correct`), or the credit of colours and counts alone (`shapes-colour`) or of forms alone
/// (`shapes-form`). Each reports `accuracy` (1 for an image the scorer calls fully correct) as an extra metric.
/// They read a prompt's `PromptSpec` from its metadata, or parse its text when it has none (a prompt file of
/// shapes-world prompts), and refuse other prompts.
public final class ShapesReward: Reward {
    public enum Kind: String, CaseIterable, Sendable {
        case partialCredit = "shapes"
        case correct = "shapes-correct"
        case colour = "shapes-colour"
        case form = "shapes-form"
    }

    public let kind: Kind
    public var name: String { kind.rawValue }
    private let verdicts: ShapeVerdictCache

    public init(_ kind: Kind, verdicts: ShapeVerdictCache = ShapeVerdictCache()) {
        self.kind = kind
        self.verdicts = verdicts
    }

    public func score(_ samples: [GeneratedSample], prompts: [Prompt]) throws -> RewardScores {
        let specs = try prompts.map { try Self.spec(of: $0, reward: name) }
        let images = try samples.map { sample -> RGBImage in
            guard case .image(let image) = sample else {
                throw RewardError.invalidInput("the \(name) reward scores images, not videos")
            }
            return image
        }
        let scores = verdicts.scores(images, specs)
        let values: [Double] = zip(scores, specs).map { verdict, spec in
            switch kind {
            case .partialCredit: return verdict.reward
            case .correct: return verdict.correct ? 1 : 0
            case .colour: return ColourCredit.credit(objects: verdict.objects, spec)
            case .form: return ShapeFormCredit.credit(objects: verdict.objects, spec)
            }
        }
        return RewardScores(scores: values, info: ["accuracy": scores.map { $0.correct ? 1 : 0 }])
    }

    /// The parsed prompt the scorer checks an image against.
    static func spec(of prompt: Prompt, reward: String) throws -> PromptSpec {
        if let spec = prompt.metadata as? PromptSpec { return spec }
        if let spec = try? PromptParser.parse(prompt.text) { return spec }
        throw RewardError.invalidInput(
            """
            the \(reward) reward scores prompts of the shapes world, and '\(prompt.text)' is not one (use it with the \
            embedded world, or choose another reward)
            """
        )
    }
}

/// The scorer's verdicts on the last batch, shared by the shapes rewards of one run so that a list naming several
/// of them scores each image once. Array equality compares storage identity first, so a repeated batch is found
/// without comparing pixels.
public final class ShapeVerdictCache: @unchecked Sendable {
    private let lock = NSLock()
    private var last: (images: [RGBImage], specs: [PromptSpec], scores: [ShapeScore])?

    public init() {}

    func scores(_ images: [RGBImage], _ specs: [PromptSpec]) -> [ShapeScore] {
        lock.lock()
        defer { lock.unlock() }
        if let last, last.images == images, last.specs == specs { return last.scores }
        let scores = zip(images, specs).map { ShapeScorer.standard.score($0, $1) }
        last = (images, specs, scores)
        return scores
    }
}

extension RewardCatalog {
    /// The standard rewards and the shapes world's, which share one verdict cache.
    public static var shapesWorld: RewardCatalog {
        var catalog = RewardCatalog.standard
        catalog.registerShapesRewards()
        return catalog
    }

    public mutating func registerShapesRewards() {
        let verdicts = ShapeVerdictCache()
        let summaries: [ShapesReward.Kind: String] = [
            .partialCredit: "shapes-world scorer's partial credit in [0, 1]",
            .correct: "1 for an image the shapes-world scorer calls fully correct, else 0",
            .colour: "shapes-world credit of colours and counts alone",
            .form: "shapes-world credit of forms alone"
        ]
        for kind in ShapesReward.Kind.allCases {
            register(kind.rawValue, summary: summaries[kind]!) { _ in ShapesReward(kind, verdicts: verdicts) }
        }
    }
}

extension Prompt {
    /// A shapes-world prompt: its text, with the parsed prompt the shapes rewards check images against.
    public init(shapes spec: PromptSpec) {
        self.init(text: spec.text, metadata: spec)
    }
}
