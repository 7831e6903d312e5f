import Imaging
import Rewards

extension RewardFrames {
    /// What the rewards score of each decoded video: the frames this picks, a picture when that is one frame, else a
    /// clip at `framesPerSecond`.
    func samples(fromVideos videos: [[RGBImage]], framesPerSecond: Double) -> [GeneratedSample] {
        videos.map { video in
            let chosen: [RGBImage]
            switch self {
            case .first: chosen = [video[0]]
            case .middle: chosen = [video[video.count / 2]]
            case .all: chosen = video
            }
            return chosen.count == 1 ? .image(chosen[0]) : .video(frames: chosen, framesPerSecond: framesPerSecond)
        }
    }
}
