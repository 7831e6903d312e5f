import Engine
import Imaging

/// The video tasks' last decoding step.
enum DecodedVideos {
    /// Videos `[B, F, H, W, 3]` in [0, 1] → every sample's frames, rounded to 8 bits as
    /// `VideoProcessor.postprocess_video` does.
    static func frames(_ pixels: Tensor) throws -> [[RGBImage]] {
        let (b, f, h, w) = (pixels.dim(0), pixels.dim(1), pixels.dim(2), pixels.dim(3))
        let values = pixels.toArray(Float.self)
        let videoSize = f * h * w * 3
        return try (0..<b).map { i in
            try RGBImage.frames(
                fhwc: Array(values[(i * videoSize)..<((i + 1) * videoSize)]), shape: [f, h, w, 3], range: .zeroToOne)
        }
    }
}
