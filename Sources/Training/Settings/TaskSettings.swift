import Foundation

/// The model family a run trains: the embedded shapes world, FLUX, Wan-2.1 or Qwen-Image (a diffusers folder with a
/// prompt-embedding cache), or Stable Diffusion v1 (a diffusers folder with a prompt file, or the embedded UNet world
/// model).
public enum ModelFamily: String, Codable, CaseIterable, Sendable {
    case world
    case flux
    case sd
    case wan
    case qwenImage = "qwen-image"
    case qwenImageEdit = "qwen-image-edit"
    case hunyuanVideo = "hunyuan-video"
    case skyreelsI2V = "skyreels-i2v"
}

/// The embedded worlds `--model world` trains on: the shapes world (pictures) or the moving-shapes world (clips).
public enum WorldName: String, Codable, CaseIterable, Sendable {
    case shapes
    case movingShapes = "moving-shapes"

    /// The committed model of the world.
    public var defaultModelFolder: String {
        switch self {
        case .shapes: return "assets/shapes-model"
        case .movingShapes: return "assets/moving-shapes-model"
        }
    }
}

/// Which frames of a video an image reward scores (the mean over the chosen frames is the sample's score).
public enum RewardFrames: String, Codable, CaseIterable, Sendable {
    /// Frame 0, as DanceGRPO's Wan trainer scores it.
    case first
    /// The middle frame.
    case middle
    /// Every frame.
    case all
}

/// What a run trains on and where it writes: the model and its data, image size, the run folder. Merged with the
/// trainer's settings through the same layers (preset < run's config.json < `--config` < flags).
public struct TaskSettings: Codable, Sendable, Equatable {
    public var model = ModelFamily.world
    /// The embedded world of `model` world (its default model folder, rewards and preset).
    public var world = WorldName.shapes
    /// Model folder: the embedded model, a diffusers FLUX or Stable Diffusion folder (nil: the embedded default).
    public var checkpoint: String?
    /// FLUX: the prompt-embedding cache written by `dancegrpo preprocess`.
    public var embeddings: String?
    /// Stable Diffusion: training prompts, one per line.
    public var promptFile: String?
    /// Stable Diffusion: evaluation prompts (default: the first prompts of `promptFile`).
    public var evalPromptFile: String?
    /// Stable Diffusion: image side in pixels.
    public var resolution = 512
    /// FLUX, Wan and Qwen-Image: image height and width in pixels.
    public var height = 720
    public var width = 720
    /// Wan: frames per sample (1 + 4k; 1 trains Wan as an image model, as DanceGRPO does).
    public var numFrames = 1
    /// SkyReels-I2V: a diffusers FLUX folder that makes each prompt's first frame (DanceGRPO's reference model).
    public var referenceCheckpoint: String?
    /// SkyReels-I2V: a folder of first frames `<i>.png`/`<i>.jpg` per cached prompt, instead of FLUX's.
    public var referenceImages: String?
    /// Wan: the frames of a video that image rewards score.
    public var rewardFrames = RewardFrames.first
    /// FLUX.1-dev's distilled guidance embedding.
    public var fluxGuidance: Float = 3.5
    /// Run folder (nil: runs/shapes-grpo, runs/moving-shapes-grpo for that world, or the resumed run's folder).
    public var outputDir: String?
    /// Where reward-model checkpoints live.
    public var rewardDir = "."
    /// Stop after this many minutes even if iterations remain (0: no limit).
    public var timeBudget: Double = 0

    public init() {}

    /// Image sizes the family can sample (no silent rounding), a finite guidance value and a time budget ≥ 0.
    public func validate() throws {
        try SettingRange.number(timeBudget, "timeBudget", atLeast: 0, " (minutes; 0: no limit)")
        try SettingRange.number(fluxGuidance, "fluxGuidance", atLeast: 0)
        guard world == .shapes || model == .world else {
            throw SettingRangeError(
                key: "world", expected: "shapes with --model \(model.rawValue) (worlds are embedded models)",
                found: world.rawValue)
        }
        switch model {
        case .flux:
            // FLUX's latents are 8× smaller than the image and packed in 2×2 patches: 16 px per token.
            for (key, value) in [("height", height), ("width", width)] {
                try Self.multiple(value, of: 16, key, "(FLUX: 8× VAE downsampling, then 2×2 patches)")
            }
        case .wan:
            // Wan-2.1's VAE downsamples 8× and its transformer takes 2×2 patches; time is compressed 4× after the
            // first frame.
            for (key, value) in [("height", height), ("width", width)] {
                try Self.multiple(value, of: 16, key, "(Wan: 8× VAE downsampling, then 2×2 patches)")
            }
            guard numFrames >= 1, numFrames <= 4097, (numFrames - 1) % 4 == 0 else {
                throw SettingRangeError(
                    key: "numFrames", expected: "1 + 4k frames (1, 5, 9, …, 81; Wan's VAE compresses time 4×)",
                    found: "\(numFrames)")
            }
        case .hunyuanVideo, .skyreelsI2V:
            // HunyuanVideo's VAE (SkyReels-V1's too) downsamples 8× and its transformer takes 2×2 patches; time is
            // compressed 4× after the first frame.
            for (key, value) in [("height", height), ("width", width)] {
                try Self.multiple(value, of: 16, key, "(HunyuanVideo: 8× VAE downsampling, then 2×2 patches)")
            }
            guard numFrames >= 1, numFrames <= 4097, (numFrames - 1) % 4 == 0 else {
                throw SettingRangeError(
                    key: "numFrames",
                    expected: "1 + 4k frames (1, 5, …, 53, …, 129; HunyuanVideo's VAE compresses time 4×)",
                    found: "\(numFrames)")
            }
        case .qwenImage, .qwenImageEdit:
            // Qwen-Image's VAE downsamples 8× and its latents are packed in 2×2 patches: 16 px per token.
            for (key, value) in [("height", height), ("width", width)] {
                try Self.multiple(value, of: 16, key, "(Qwen-Image: 8× VAE downsampling, then 2×2 patches)")
            }
        case .sd:
            try Self.multiple(resolution, of: 8, "resolution", "(Stable Diffusion's VAE downsamples 8×)")
        case .world:
            break
        }
    }

    /// A positive multiple of `factor` up to 2^16 px.
    static func multiple(_ value: Int, of factor: Int, _ key: String, _ why: String) throws {
        guard value < factor || value > 65536 || value % factor != 0 else { return }
        throw SettingRangeError(
            key: key, expected: "a multiple of \(factor) from \(factor) to 65536 px \(why)", found: "\(value)")
    }
}
