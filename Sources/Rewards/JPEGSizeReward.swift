import Foundation
import Imaging

/// DDPO's JPEG rewards: an image's size as a quality-95 JPEG in kilobytes (bytes / 1000, as DDPO divides), from the
/// same libjpeg settings PIL uses. Compressibility rewards small files (−size), incompressibility large ones (+size).
/// https://github.com/kvablack/ddpo-pytorch/blob/1958463f020112c9a7bc85768d296daacc2e1b4b/ddpo_pytorch/rewards.py#L7-L29
public final class JPEGSizeReward: Reward {
    public enum Direction: String, Sendable, CaseIterable {
        case compressibility = "jpeg-compressibility"
        case incompressibility = "jpeg-incompressibility"
    }

    public let direction: Direction
    public let quality: Int
    public var name: String { direction.rawValue }

    public init(_ direction: Direction, quality: Int = 95) {
        self.direction = direction
        self.quality = quality
    }

    public static func sizeInKilobytes(_ image: RGBImage, quality: Int = 95) throws -> Double {
        Double(try JPEGEncoder(quality: quality).encode(image).count) / 1000
    }

    public func score(_ samples: [GeneratedSample], prompts: [Prompt]) throws -> RewardScores {
        let sign: Double = direction == .compressibility ? -1 : 1
        let sizes = try meanOverFrames(samples, prompts: prompts) { images, _ in
            try images.map { try Self.sizeInKilobytes($0, quality: quality) }
        }
        return RewardScores(scores: sizes.map { sign * $0 })
    }
}
