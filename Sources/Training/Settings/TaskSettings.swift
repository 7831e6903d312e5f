import Foundation

/// The model family a run trains: the embedded shapes world, FLUX (a diffusers folder with a prompt-embedding
/// cache), or Stable Diffusion v1 (a diffusers folder with a prompt file, or the embedded UNet world model).
public enum ModelFamily: String, Codable, CaseIterable, Sendable {
    case world
    case flux
    case sd
}

/// What a run trains on and where it writes: the model and its data, image size, the run folder. Merged with the
/// trainer's settings through the same layers (preset < run's config.json < `--config` < flags).
public struct TaskSettings: Codable, Sendable, Equatable {
    public var model = ModelFamily.world
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
    /// FLUX: image height and width in pixels.
    public var height = 720
    public var width = 720
    /// FLUX.1-dev's distilled guidance embedding.
    public var fluxGuidance: Float = 3.5
    /// Run folder (nil: runs/shapes-grpo, or the resumed run's folder).
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
        switch model {
        case .flux:
            // FLUX's latents are 8× smaller than the image and packed in 2×2 patches: 16 px per token.
            for (key, value) in [("height", height), ("width", width)] {
                try Self.multiple(value, of: 16, key, "(FLUX: 8× VAE downsampling, then 2×2 patches)")
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
