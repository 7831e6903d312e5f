import Foundation
import Imaging

/// A prompt as rewards see it: its text, and whatever a world attaches for rewards that read more than text (the
/// shapes world's parsed prompt, a reference image for an editing reward). Rewards that need metadata cast it to
/// their own type; everything else reads `text`.
public struct Prompt: Sendable, Equatable {
    public var text: String
    public var metadata: (any Hashable & Sendable)?

    public init(text: String, metadata: (any Hashable & Sendable)? = nil) {
        self.text = text
        self.metadata = metadata
    }

    public static func == (a: Prompt, b: Prompt) -> Bool {
        a.text == b.text && a.metadata.map { AnyHashable($0) } == b.metadata.map { AnyHashable($0) }
    }
}

/// One decoded sample of a generator: a picture, or a video as its frames in order.
public enum GeneratedSample: Sendable, Equatable {
    case image(RGBImage)
    case video(frames: [RGBImage], framesPerSecond: Double)

    /// Every frame of the sample (one for an image).
    public var frames: [RGBImage] {
        switch self {
        case .image(let image): return [image]
        case .video(let frames, _): return frames
        }
    }
}

/// What a reward returns for a batch: one score per sample, and named per-sample extras for logs (DDPO's
/// `(rewards, info)`; e.g. the shapes world's `accuracy`, 0 or 1 per image). The trainer optimises `scores` only.
public struct RewardScores: Sendable, Equatable {
    public var scores: [Double]
    public var info: [String: [Double]]

    public init(scores: [Double], info: [String: [Double]] = [:]) {
        self.scores = scores
        self.info = info
    }
}

/// A reward: decoded samples and their prompts in (one prompt per sample), scores out. Image rewards score a video
/// frame by frame and average (``ImageRewardModel``'s default), so video models train on the same path.
public protocol Reward: AnyObject {
    /// The name in `--reward` lists and logs.
    var name: String { get }
    func score(_ samples: [GeneratedSample], prompts: [Prompt]) throws -> RewardScores
}

extension Reward {
    /// Scores decoded images.
    public func score(images: [RGBImage], prompts: [Prompt]) throws -> RewardScores {
        try score(images.map(GeneratedSample.image), prompts: prompts)
    }
}

/// Scores every frame with `scoreFrames` and averages them per sample: an image is a one-frame video.
func meanOverFrames(
    _ samples: [GeneratedSample], prompts: [Prompt],
    _ scoreFrames: ([RGBImage], [Prompt]) throws -> [Double]
) throws -> [Double] {
    guard samples.count == prompts.count else {
        throw RewardError.invalidInput("\(samples.count) samples but \(prompts.count) prompts (one prompt per sample)")
    }
    if samples.allSatisfy({ $0.frames.count == 1 }) { return try scoreFrames(samples.map { $0.frames[0] }, prompts) }
    var frames: [RGBImage] = [], framePrompts: [Prompt] = []
    for (sample, prompt) in zip(samples, prompts) {
        guard !sample.frames.isEmpty else { throw RewardError.invalidInput("a video sample with no frames") }
        frames += sample.frames
        framePrompts += Array(repeating: prompt, count: sample.frames.count)
    }
    let perFrame = try scoreFrames(frames, framePrompts)
    var means: [Double] = [], offset = 0
    for sample in samples {
        let n = sample.frames.count
        means.append(perFrame[offset..<(offset + n)].reduce(0, +) / Double(n))
        offset += n
    }
    return means
}
