import Checkpoints
import Foundation

// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/models/videoalign/data.py
/// VideoAlign's `DataConfig` as a checkpoint's `model_config.json` stores it under "data_config" (read as part of
/// ``VideoAlignConfig``, which checks it): the fields `prepare_batch` reads (others ignored), with `DataConfig`'s
/// defaults. `fps` null (not absent) means "count frames by `num_frames`".
public struct VideoAlignInputDataConfig: Codable, Sendable, Equatable {
    public var maxFramePixels = 240 * 320
    /// A frame count instead of `fps` (the dataclass types it as a float; `round_by_factor` rounds it).
    public var numFrames: Double?
    public var fps: Double? = 2
    public var evalDim: [VideoAlignPrompt.Dimension] = [.visualQuality]
    public var promptTemplateType = VideoAlignPrompt.TemplateType.none
    public var sampleType = "uniform"

    enum CodingKeys: String, CodingKey {
        case maxFramePixels = "max_frame_pixels", numFrames = "num_frames", fps, evalDim = "eval_dim"
        case promptTemplateType = "prompt_template_type", sampleType = "sample_type"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = VideoAlignInputDataConfig()
        maxFramePixels = try c.decodeIfPresent(Int.self, forKey: .maxFramePixels) ?? d.maxFramePixels
        numFrames = try c.decodeIfPresent(Double.self, forKey: .numFrames)
        fps = c.contains(.fps) ? try c.decodeIfPresent(Double.self, forKey: .fps) : d.fps
        // `eval_dim` is one name or a list of names.
        if let one = try? c.decodeIfPresent(VideoAlignPrompt.Dimension.self, forKey: .evalDim) {
            evalDim = [one]
        } else {
            evalDim = try c.decodeIfPresent([VideoAlignPrompt.Dimension].self, forKey: .evalDim) ?? d.evalDim
        }
        promptTemplateType =
            try c.decodeIfPresent(VideoAlignPrompt.TemplateType.self, forKey: .promptTemplateType)
            ?? d.promptTemplateType
        sampleType = try c.decodeIfPresent(String.self, forKey: .sampleType) ?? d.sampleType
    }

    /// The checked "data_config" of a VideoAlign `model_config.json` (``VideoAlignConfig/load(_:)``).
    public static func load(modelConfig url: URL) throws -> VideoAlignInputDataConfig {
        try VideoAlignConfig.load(url).dataConfig
    }
}

/// What `prepare_batch` puts in every video entry and prompt: the frame sampling, the pixel limits and the prompt's
/// template.
public struct VideoAlignInputSettings: Sendable, Equatable {
    public var sampling: VideoAlignFrameSampling
    public var sizing: VideoAlignFrameSizing
    public var dimensions: [VideoAlignPrompt.Dimension]
    public var template: VideoAlignPrompt.TemplateType

    public init(
        sampling: VideoAlignFrameSampling, sizing: VideoAlignFrameSizing, dimensions: [VideoAlignPrompt.Dimension],
        template: VideoAlignPrompt.TemplateType
    ) {
        self.sampling = sampling
        self.sizing = sizing
        self.dimensions = dimensions
        self.template = template
    }

    /// `prepare_batch(fps=, num_frames=, max_pixels=)`: each argument nil takes the data config's value; frames are
    /// counted by `nframes` when a frame count is set, else by `fps`; `min_pixels` and `total_pixels` stay
    /// vision_process.py's defaults.
    public init(
        dataConfig: VideoAlignInputDataConfig, fps: Double? = nil, numFrames: Double? = nil, maxPixels: Int? = nil
    ) throws {
        guard let sampleType = VideoAlignFrameSampling.SampleType(rawValue: dataConfig.sampleType) else {
            throw VideoAlignFrameSampling.Error.sampleType(dataConfig.sampleType)
        }
        let count: VideoAlignFrameSampling.Count
        if let frames = numFrames ?? dataConfig.numFrames {
            // round_by_factor(nframes, 2) rounds a float count too.
            count = .frames(VideoAlignFrameSampling.roundByFactor(frames, VideoAlignFrameSampling.frameFactor))
        } else if let rate = fps ?? dataConfig.fps {
            count = .fps(rate)
        } else {
            throw VideoAlignFrameSampling.Error.noCount
        }
        self.init(
            sampling: VideoAlignFrameSampling(count: count, sampleType: sampleType),
            sizing: VideoAlignFrameSizing(maxPixels: maxPixels ?? dataConfig.maxFramePixels),
            dimensions: dataConfig.evalDim, template: dataConfig.promptTemplateType)
    }
}
