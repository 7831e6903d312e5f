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
}
