import Checkpoints
import Engine
import Foundation
import Tokenizers

/// Decoded frames of one video: 8-bit RGB, each `[height, width, 3]` row-major, in order, with the file's frame rate
/// (what torchvision's `read_video` gives VideoAlign: every frame, and `video_fps`).
public struct VideoAlignInputVideo: Sendable {
    public var frames: [[UInt8]]
    public var height: Int
    public var width: Int
    public var fps: Double

    public init(frames: [[UInt8]], height: Int, width: Int, fps: Double) {
        self.frames = frames
        self.height = height
        self.width = width
        self.fps = fps
    }
}

/// The model's inputs for a batch of videos, as transformers' `Qwen2VLProcessor` returns them.
public struct VideoAlignInputBatch {
    /// `[B, L]` int32, right-padded with the tokenizer's pad id.
    public var inputIDs: Tensor
    /// `[B, L]` int32: 1 for tokens, 0 for padding.
    public var attentionMask: Tensor
    /// `[B, L]` int32: 2 on `<|video_pad|>` tokens, else 0 (transformers 5's `mm_token_type_ids`, which its Qwen2-VL
    /// needs for the multimodal rotary positions; VideoAlign's transformers 4 found the video tokens from the ids).
    public var mmTokenTypeIDs: Tensor
    /// `[Σ t·h·w, C · temporal_patch_size · P · P]` float32, the videos' patches one after another.
    public var pixelValuesVideos: Tensor
    /// `[B, 3]` int32: each video's (t, h, w) patch grid.
    public var videoGridTHW: Tensor
    public var grids: [(t: Int, h: Int, w: Int)]
}

// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/models/videoalign/inference.py
// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/models/qwen2_vl/video_processing_qwen2_vl.py
// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/models/qwen2_vl/processing_qwen2_vl.py
/// VideoAlign's `prepare_batch` without the file reading: each video's frames sampled and resized as
/// `process_vision_info` does (``VideoAlignFrameSampling``, ``VideoAlignFrameSizing``), its prompt built
/// (``VideoAlignPrompt``) and put in the chat text, then what `Qwen2VLProcessor(text=, videos=, padding=True)` does:
/// the video processor (its own `smart_resize`, a no-op on frames already sized by VideoAlign within its pixel
/// limits; rescale, normalise, pad the frames to a multiple of `temporal_patch_size` with the last one, patchify),
/// `<|video_pad|>` repeated t h w / merge^2 times, the tokenizer (with VideoAlign's three reward tokens) and padding
/// on the right.
public struct VideoAlignInputProcessor {
    /// The tokens train_reward.py adds when `use_special_tokens` is set.
    public static let rewardTokens = ["<|VQ_reward|>", "<|MQ_reward|>", "<|TA_reward|>"]
    public static let videoToken = "<|video_pad|>"

    public var tokenizer: Qwen2Tokenizer
    /// The video processor's settings (`size` as min/max pixels, patch sizes, mean/std, rescaling).
    public var video: Qwen2VLImageProcessor
    public var doResize: Bool

    public init(tokenizer: Qwen2Tokenizer, video: Qwen2VLImageProcessor, doResize: Bool = true) {
        self.tokenizer = tokenizer
        self.video = video
        self.doResize = doResize
    }

    /// The id of each of ``rewardTokens`` (nil where the tokenizer lacks it).
    public var rewardTokenIDs: [Int?] { Self.rewardTokens.map { tokenizer.id(of: $0) } }

    /// A Qwen2-VL processor folder in either transformers layout (the tokenizer's `tokenizer.json` or `vocab.json` +
    /// `merges.txt`; the video processor's settings in `video_preprocessor_config.json`, under "video_processor" in
    /// `processor_config.json` (transformers 5), or at the top of `preprocessor_config.json`, which transformers 5
    /// reads for the video processor when it is the only file, as in Qwen/Qwen2-VL-2B-Instruct), with the reward
    /// tokens added when `rewardTokens` is set (`use_special_tokens` in VideoAlign's model_config.json).
    public static func load(from folder: URL, rewardTokens: Bool = true) throws -> VideoAlignInputProcessor {
        let (video, doResize) = try videoSettings(in: folder)
        var tokenizer = try Qwen2Tokenizer(directory: folder)
        if rewardTokens { tokenizer = tokenizer.addingSpecialTokens(Self.rewardTokens) }
        guard tokenizer.id(of: videoToken) != nil else {
            throw ModelConfigError.invalidValues(
                file: folder.path, problems: ["the tokenizer has no \(videoToken) token: not a Qwen2-VL tokenizer"])
        }
        try checkChatTemplate(in: folder)
        return VideoAlignInputProcessor(tokenizer: tokenizer, video: video, doResize: doResize)
    }

    /// The folder's chat template (`chat_template.jinja`, `chat_template.json`, or `tokenizer_config.json`'s
    /// "chat_template") is not interpreted: ``VideoAlignPrompt/chatText(_:)`` renders Qwen2-VL's. Another template,
    /// or none, is reported as a load warning.
    static func checkChatTemplate(in folder: URL) throws {
        let jinja = folder.appendingPathComponent("chat_template.jinja")
        var found: (file: URL, template: String)?
        if FileManager.default.fileExists(atPath: jinja.path) {
            found = (jinja, try String(contentsOf: jinja, encoding: .utf8))
        } else {
            for name in ["chat_template.json", "tokenizer_config.json"] {
                let file = folder.appendingPathComponent(name)
                guard FileManager.default.fileExists(atPath: file.path) else { continue }
                if let template = try ConfigFile.object(from: file)["chat_template"] as? String {
                    found = (file, template)
                    break
                }
            }
        }
        let value = "Qwen/Qwen2-VL-2B-Instruct's template"
        guard let found else {
            LoadWarnings.defaultTaken(file: folder.path, key: "chat_template", value: value)
            return
        }
        if found.template != VideoAlignPrompt.qwen2VLChatTemplate {
            LoadWarnings.defaultTaken(
                file: found.file.path, key: "chat_template", value: value,
                reason: "another template than Qwen2-VL's, the only one rendered")
        }
    }

    /// transformers' `Qwen2VLVideoProcessor` class defaults for `size`, used when the file names no pixel limits.
    static let videoMinPixels = 128 * 28 * 28
    static let videoMaxPixels = 28 * 28 * 768

    static func videoSettings(in folder: URL) throws -> (Qwen2VLImageProcessor, doResize: Bool) {
        let candidates = ["video_preprocessor_config.json", "processor_config.json", "preprocessor_config.json"]
        guard
            let file = candidates.map({ folder.appendingPathComponent($0) })
                .first(where: { FileManager.default.fileExists(atPath: $0.path) })
        else {
            throw ModelConfigError.invalidValues(
                file: folder.path,
                problems: ["no video processor settings: expected one of \(candidates.joined(separator: ", "))"])
        }
        var settings = try ConfigFile.object(from: file)
        if file.lastPathComponent == "processor_config.json" {
            guard let nested = settings["video_processor"] as? [String: Any] else {
                throw ModelConfigError.invalidValues(
                    file: file.path, problems: ["video_processor: expected the video processor's settings, found none"])
            }
            settings = nested
        }
        if settings["size"] == nil {
            for (key, value) in [("min_pixels", videoMinPixels), ("max_pixels", videoMaxPixels)]
            where settings[key] == nil {
                settings[key] = value
                LoadWarnings.defaultTaken(file: file.path, key: key, value: "\(value)")
            }
        }
        let doResize = settings["do_resize"] as? Bool ?? true
        let video: Qwen2VLImageProcessor
        do {
            video = try JSONDecoder().decode(
                Qwen2VLImageProcessor.self, from: try JSONSerialization.data(withJSONObject: settings))
        } catch let error as DecodingError {
            throw ModelConfigError.invalidValues(
                file: file.path, problems: ["the video processor's settings: \(error)"])
        }
        try video.check(file: file.path)
        return (video, doResize)
    }

    public enum Error: Swift.Error, CustomStringConvertible, Equatable {
        case video(index: Int, reason: String)
        case batch(String)
        public var description: String {
            switch self {
            case .video(let index, let reason): return "VideoAlign input: video \(index): \(reason)"
            case .batch(let reason): return "VideoAlign input: \(reason)"
            }
        }
    }

    /// `fetch_video` on decoded frames: the kept frames resized, 8-bit `[height, width, 3]` each.
    public static func fetchVideo(
        _ video: VideoAlignInputVideo, sampling: VideoAlignFrameSampling, sizing: VideoAlignFrameSizing
    ) throws -> (frames: [[UInt8]], height: Int, width: Int) {
        guard !video.frames.isEmpty else { throw VideoAlignFrameSampling.Error.noFrames }
        for frame in video.frames where frame.count != video.height * video.width * 3 {
            throw Error.batch("a frame of \(frame.count) values in a \(video.height) × \(video.width) RGB video")
        }
        let indices = try sampling.indices(totalFrames: video.frames.count, videoFPS: video.fps)
        guard !indices.isEmpty else { throw VideoAlignFrameSampling.Error.noFrames }
        let size = try sizing.targetSize(frameCount: indices.count, height: video.height, width: video.width)
        let frames = indices.map {
            VideoAlignFrameSizing.resize(video.frames[$0], height: video.height, width: video.width, to: size)
        }
        return (frames, size.height, size.width)
    }

    /// The video processor on one video's frames (8-bit, `[height, width, 3]` each, the values torchvision's resize
    /// left): `[t h w, C T P P]` and the grid. Rows go by frame pair, then merge unit by merge unit in raster
    /// order, each unit's m × m patches in raster order; a row is (channel, frame, y, x).
    public func pixelValues(frames: [[UInt8]], height: Int, width: Int) throws
        -> (pixelValues: Tensor, grid: (t: Int, h: Int, w: Int))
    {
        guard !frames.isEmpty else { throw VideoAlignFrameSampling.Error.noFrames }
        var (h, w) = (height, width)
        var values = frames.map { $0.map(Float.init) }
        if doResize {
            let size = try video.targetSize(height: height, width: width)
            if size != (height, width) {
                values = values.map {
                    TorchBicubicFloat.resize(
                        $0, height: height, width: width, channels: 3, newHeight: size.height, newWidth: size.width)
                }
                (h, w) = size
            }
        }
        let (p, m, tp) = (video.patchSize, video.mergeSize, video.temporalPatchSize)
        guard h % (p * m) == 0, w % (p * m) == 0 else {
            throw Error.batch("frames of \(h) × \(w) pixels are not whole merge units of \(p * m) pixels")
        }
        // transformers' patchify pads with copies of the last frame up to a multiple of temporal_patch_size.
        while values.count % tp != 0 { values.append(values[values.count - 1]) }
        let t = values.count
        var x = Tensor(values.flatMap { $0 }, shape: [t, h, w, 3])
        if video.doRescale { x = x * video.rescaleFactor }
        if video.doNormalize {
            x = (x - Tensor(video.imageMean, shape: [1, 1, 1, 3])) / Tensor(video.imageStd, shape: [1, 1, 1, 3])
        }
        let (gt, gh, gw) = (t / tp, h / p, w / p)
        // [gt, T, gh/m, m, P, gw/m, m, P, C] → [gt, gh/m, gw/m, m, m, C, T, P, P].
        let patches = x.reshaped([gt, tp, gh / m, m, p, gw / m, m, p, 3]).transposed([0, 2, 5, 3, 6, 8, 1, 4, 7])
        return (patches.reshaped([gt * gh * gw, 3 * tp * p * p]), (gt, gh, gw))
    }

    /// The token ids of one sample: the chat text with `query` (the built prompt), `<|video_pad|>` expanded to
    /// `videoTokens` copies.
    public func tokenIDs(query: String, videoTokens: Int) throws -> [Int] {
        guard let videoID = tokenizer.id(of: Self.videoToken) else {
            throw Error.batch("the tokenizer has no \(Self.videoToken) token")
        }
        let ids = tokenizer.tokenize(VideoAlignPrompt.chatText(query))
        guard ids.filter({ $0 == videoID }).count == 1 else {
            throw Error.batch("the prompt holds \(Self.videoToken) itself; the chat text must have exactly one")
        }
        return ids.flatMap { $0 == videoID ? Array(repeating: videoID, count: videoTokens) : [$0] }
    }

    /// `prepare_batch`: one video and one prompt per sample, the same settings for all (VideoAlign's data config).
    public func batch(
        videos: [VideoAlignInputVideo], prompts: [String], settings: VideoAlignInputSettings
    ) throws -> VideoAlignInputBatch {
        try batch(videos: videos, prompts: prompts, settings: Array(repeating: settings, count: videos.count))
    }

    /// The processor call on a batch whose video entries differ (one ``VideoAlignInputSettings`` per sample).
    public func batch(
        videos: [VideoAlignInputVideo], prompts: [String], settings: [VideoAlignInputSettings]
    ) throws -> VideoAlignInputBatch {
        guard !videos.isEmpty, videos.count == prompts.count, videos.count == settings.count else {
            throw Error.batch("\(videos.count) videos, \(prompts.count) prompts and \(settings.count) settings")
        }
        var pixels: [Tensor] = []
        var grids: [(t: Int, h: Int, w: Int)] = []
        var rows: [[Int]] = []
        let merge = video.mergeSize * video.mergeSize
        for index in videos.indices {
            let (sample, setting) = (videos[index], settings[index])
            do {
                let fetched = try Self.fetchVideo(sample, sampling: setting.sampling, sizing: setting.sizing)
                let (values, grid) = try pixelValues(
                    frames: fetched.frames, height: fetched.height, width: fetched.width)
                let query = try VideoAlignPrompt.build(
                    prompts[index], dimensions: setting.dimensions, template: setting.template)
                rows.append(try tokenIDs(query: query, videoTokens: grid.t * grid.h * grid.w / merge))
                pixels.append(values)
                grids.append(grid)
            } catch {
                throw Error.video(index: index, reason: "\(error)")
            }
        }
        let length = rows.map(\.count).max()!
        let videoID = tokenizer.id(of: Self.videoToken)
        var ids: [Int32] = []
        var mask: [Int32] = []
        var types: [Int32] = []
        for row in rows {
            let padding = length - row.count
            ids += row.map(Int32.init) + Array(repeating: Int32(tokenizer.padTokenID), count: padding)
            mask += Array(repeating: 1, count: row.count) + Array(repeating: 0, count: padding)
            types += row.map { $0 == videoID ? 2 : 0 } + Array(repeating: 0, count: padding)
        }
        return VideoAlignInputBatch(
            inputIDs: Tensor(ids, shape: [rows.count, length]),
            attentionMask: Tensor(mask, shape: [rows.count, length]),
            mmTokenTypeIDs: Tensor(types, shape: [rows.count, length]),
            pixelValuesVideos: concatenated(pixels, axis: 0),
            videoGridTHW: Tensor(grids.flatMap { [Int32($0.t), Int32($0.h), Int32($0.w)] }, shape: [grids.count, 3]),
            grids: grids)
    }
}
