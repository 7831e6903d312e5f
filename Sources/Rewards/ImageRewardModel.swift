import Engine
import Foundation
import Imaging

/// A model that scores images against their prompts (higher is better). Scores are computed in batches of
/// ``batchSize`` images; image i is scored against prompt i (DanceGRPO's PickScore scored every image against the
/// first prompt of the batch; this does not).
/// https://github.com/XueZeyue/DanceGRPO/blob/22b85efe5312089f07c027d5ba94db168656c9dc/fastvideo/train_grpo_flux.py#L443
public protocol ImageRewardModel: Reward {
    /// Images per forward pass.
    var batchSize: Int { get set }
    /// One score per image; `prompts` has one prompt per image (the aesthetic predictor ignores them).
    func scores(images: [RGBImage], prompts: [String]) throws -> [Double]
}

extension ImageRewardModel {
    /// A model scores images; a video's score is the mean of its frames'.
    public func score(_ samples: [GeneratedSample], prompts: [Prompt]) throws -> RewardScores {
        RewardScores(
            scores: try meanOverFrames(samples, prompts: prompts) { try scores(images: $0, prompts: $1.map(\.text)) })
    }
}

/// Problems with reward model files and inputs. Every message names the file and what was expected.
public enum RewardError: Error, CustomStringConvertible, Equatable {
    /// A file or folder that is not there.
    case missingFile(path: String, expected: String)
    /// A checkpoint that is not the architecture the config describes.
    case checkpointMismatch(file: String, expected: String, found: String)
    /// A file this build cannot read.
    case unsupportedFormat(file: String, reason: String)
    /// Inputs that do not fit together.
    case invalidInput(String)
    /// An unknown reward name or a malformed `--reward` list.
    case invalidSpecification(String)

    public var description: String {
        switch self {
        case .missingFile(let path, let expected): return "\(path): not found (expected \(expected))"
        case .checkpointMismatch(let file, let expected, let found):
            return "\(file): expected \(expected), found \(found)"
        case .unsupportedFormat(let file, let reason): return "\(file): \(reason)"
        case .invalidInput(let message): return message
        case .invalidSpecification(let message): return message
        }
    }
}

extension ImageRewardModel {
    /// Checks the inputs and runs `body` on consecutive batches of at most ``batchSize`` images.
    func inBatches(
        images: [RGBImage], prompts: [String]?,
        _ body: (ArraySlice<RGBImage>, ArraySlice<String>) throws -> [Double]
    ) throws -> [Double] {
        if let prompts, prompts.count != images.count {
            throw RewardError.invalidInput(
                "\(name): \(images.count) images but \(prompts.count) prompts (one prompt per image)")
        }
        let prompts = prompts ?? Array(repeating: "", count: images.count)
        var result: [Double] = []
        result.reserveCapacity(images.count)
        var start = 0
        while start < images.count {
            let end = min(start + max(batchSize, 1), images.count)
            // The scores were read from the engine: a failure in this batch made them placeholders.
            let scores = try Engine.catchingErrors { try body(images[start..<end], prompts[start..<end]) }
            result += scores
            start = end
        }
        return result
    }
}
