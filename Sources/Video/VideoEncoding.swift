/// How `VideoWriter` encodes: H.264 through libx264 in yuv420p, the format every browser and player opens.
public struct VideoEncoding: Equatable, Sendable {
    /// What to do with frames of odd width or height, which 4:2:0 chroma (one sample per 2 × 2 pixels) cannot hold.
    public enum OddSize: Equatable, Sendable {
        /// Repeat the last column and/or row once, so the file is one pixel wider and/or taller.
        case padEdge
        /// Throw `VideoError.invalidArgument`.
        case reject
    }

    /// x264's constant rate factor, 0…51 (lower is better and larger). 18 is near transparent, as generated samples
    /// deserve; x264's own default is 23.
    public var crf: Int
    /// x264's speed preset, one of `presets`.
    public var preset: String
    public var oddSize: OddSize

    /// x264's presets, fastest first.
    public static let presets = [
        "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo"
    ]

    public init(crf: Int = 18, preset: String = "medium", oddSize: OddSize = .padEdge) {
        self.crf = crf
        self.preset = preset
        self.oddSize = oddSize
    }
}
