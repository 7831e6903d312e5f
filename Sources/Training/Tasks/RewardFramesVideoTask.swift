import Imaging
import Rewards

/// A video task whose rewards score the frames `rewardFrames` picks from each decoded video.
public protocol RewardFramesVideoTask: VideoTrainingTask {
    var rewardFrames: RewardFrames { get }
}

extension RewardFramesVideoTask {
    /// The frames `rewardFrames` picks from each decoded video: a picture when that is one frame, else a clip at
    /// ``framesPerSecond``.
    public func samples(fromVideos videos: [[RGBImage]]) -> [GeneratedSample] {
        videos.map { video in
            let chosen: [RGBImage]
            switch rewardFrames {
            case .first: chosen = [video[0]]
            case .middle: chosen = [video[video.count / 2]]
            case .all: chosen = video
            }
            return chosen.count == 1 ? .image(chosen[0]) : .video(frames: chosen, framesPerSecond: framesPerSecond)
        }
    }
}
