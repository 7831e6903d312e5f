import Checkpoints
import Engine
import Sampling
import Foundation
import Rewards
import GRPO
import Imaging
import Models
import NN

/// DanceGRPO on Stable Diffusion v1 (`train_grpo_sd.py`) from a diffusers folder: the UNet is trained
/// (fully, or through LoRA adapters on its attention projections), the CLIP text encoder and the VAE stay frozen.
/// - policy: the UNet's ε at DDIM's integer timesteps (``UNetPolicy``), conditioned on the 77-token CLIP states;
/// - chain: DDPO's DDIM step with the folder's scheduler (`scheduler/scheduler_config.json` through
///   `DDIMScheduler.from_config`);
/// - latents: channels-last `[resolution/8, resolution/8, 4]` (64×64×4 at SD v1.4's 512 px; diffusers'
///   `[4, 64, 64]` transposed);
/// - prompts: a prompt file (``PromptFile``; epoch-wise shuffles for training, the file's first prompts for
///   evaluation unless an evaluation file is given);
/// - images: `vae.decode(latents / scaling_factor)`, `x/2 + 0.5` clamped to [0, 1], then uint8 by **truncation**
///   (`(x·255).astype(uint8)`, as the reference converts before saving the JPEG its reward reads).
public final class StableDiffusionTask: TrainingTask {
    public let pipeline: StableDiffusionPipeline
    /// The image side in pixels.
    public let resolution: Int
    public let trainingPromptFile: PromptFile
    public let evaluationPromptFile: PromptFile
    /// Where the checkpoint came from, for the summary.
    public let source: String
    private let textCache: TextConditioningCache

    /// Loads the SD folder (`unet/`, `vae/`, `text_encoder/`, `tokenizer/`, `scheduler/`) and the prompt files.
    /// `unetFolder` replaces `<folder>/unet` (a fine-tuned UNet, or a checkpoint folder containing `unet/`).
    public convenience init(
        folder: URL, promptFile: URL, evaluationPromptFile: URL? = nil, resolution: Int = 512,
        unetFolder: URL? = nil, dtype: DType? = nil
    ) throws {
        let prompts = try PromptFile(contentsOf: promptFile)
        let evaluation = try evaluationPromptFile.map { try PromptFile(contentsOf: $0) } ?? prompts
        let pipeline = try StableDiffusionPipeline.load(from: folder, dtype: dtype, unetFolder: unetFolder)
        try self.init(
            pipeline: pipeline, prompts: prompts, evaluationPrompts: evaluation, resolution: resolution,
            source: folder.path)
    }

    /// A task over an already loaded pipeline (which must have its text encoder).
    public init(
        pipeline: StableDiffusionPipeline, prompts: PromptFile, evaluationPrompts: PromptFile? = nil,
        resolution: Int = 512,
        source: String = "Stable Diffusion"
    ) throws {
        guard pipeline.textEncoder != nil, pipeline.tokenizer != nil else {
            throw TrainingDataError.unusableModel(
                file: source,
                reason:
                    "the pipeline was loaded without its text encoder, which training needs (text_encoder/, tokenizer/)"
            )
        }
        let multiple = pipeline.vaeScaleFactor * (1 << pipeline.unet.config.downsamplingSteps)
        guard resolution > 0, resolution % multiple == 0 else {
            throw TrainingDataError.unusableModel(
                file: source,
                reason: """
                    resolution \(resolution) px: expected a positive multiple of \(multiple) (VAE factor \
                    \(pipeline.vaeScaleFactor) × the UNet's \(1 << pipeline.unet.config.downsamplingSteps))
                    """
            )
        }
        self.pipeline = pipeline
        self.resolution = resolution
        self.trainingPromptFile = prompts
        self.evaluationPromptFile = evaluationPrompts ?? prompts
        self.source = source
        textCache = TextConditioningCache { texts in Conditioning([UNetPolicy.textStatesKey: pipeline.encode(texts)]) }
        pipeline.textEncoder?.freeze()
        pipeline.vae.freeze()
    }

    public var summary: String {
        let shape = latentShape.map(String.init).joined(separator: "×")
        return """
            Stable Diffusion from \(source) (UNet \(formatted(pipeline.unet.parameterCount())) parameters), \
            \(trainingPromptFile.prompts.count) prompts from \(trainingPromptFile.source), \(resolution) px (latents \
            \(shape))
            """
    }

    /// The UNet over latents of `resolution` px downsampled by the VAE.
    public static func activationEstimate(folder: URL, settings: TaskSettings) throws -> ActivationEstimate? {
        let side =
            settings.resolution
            / (try ActivationEstimate.vaeScaleFactor(vaeFolder: folder.appendingPathComponent("vae")))
        return try .unet(unetFolder: folder.appendingPathComponent("unet"), pixels: side * side)
    }

    public var network: Module { pipeline.unet }
    public var networkFolderName: String { "unet" }

    /// `folder/unet/config.json` + `folder/unet/diffusion_pytorch_model.safetensors` (diffusers'
    /// `UNet2DConditionModel.from_pretrained(folder, subfolder="unet")` reads them).
    public func saveNetwork(to folder: URL) throws {
        try pipeline.unet.writeFolder(to: folder.appendingPathComponent(networkFolderName))
    }

    public func policy(reference: ReferenceWeights?) -> DenoisingPolicy {
        UNetPolicy(unet: pipeline.unet, reference: reference)
    }

    public var chain: SamplingChain { .ddim(pipeline.schedulerConfig) }

    public var latentShape: [Int] {
        let (h, w) = pipeline.latentSize(height: resolution, width: resolution)
        return [h, w, pipeline.unet.config.inChannels]
    }

    public func trainingPrompts(count: Int, iteration: Int, seed: UInt64) throws -> [Prompt] {
        trainingPromptFile.training(count: count, iteration: iteration, seed: seed)
    }

    public func evaluationPrompts(count: Int) throws -> [Prompt] {
        evaluationPromptFile.fixed(count: count)
    }

    /// `[B, 77, D]` CLIP `last_hidden_state` rows under ``UNetPolicy/textStatesKey``, cached per text.
    public func conditioning(_ texts: [String]) throws -> Conditioning {
        try textCache(texts)
    }

    /// Latents `[B, h, w, 4]` → images: the pipeline's decode to [0, 1], then truncation to uint8.
    public func images(_ latents: Tensor) throws -> [RGBImage] {
        try truncatedImages(pipeline.decode(latents))
    }

    private func formatted(_ count: Int) -> String {
        count >= 1_000_000 ? String(format: "%.1fM", Double(count) / 1e6) : String(format: "%.1fK", Double(count) / 1e3)
    }
}

/// Images `[B, H, W, 3]` with values in [0, 1] → 8-bit images by truncation, `uint8(x·255)` (numpy's
/// `(x * 255).astype(np.uint8)` on clamped values), as DanceGRPO's SD trainer converts before its reward;
/// the world's other decoders round instead.
/// https://github.com/XueZeyue/DanceGRPO/blob/22b85efe5312089f07c027d5ba94db168656c9dc/fastvideo/train_grpo_sd.py#L453
public func truncatedImages(_ pixels: Tensor) throws -> [RGBImage] {
    precondition(pixels.ndim == 4 && pixels.dim(3) == 3, "truncatedImages: expected [B, H, W, 3], got \(pixels.shape)")
    let (b, h, w) = (pixels.dim(0), pixels.dim(1), pixels.dim(2))
    let values = pixels.asType(.float32).toArray(Float.self)
    let size = h * w * 3
    return try (0..<b).map { i in
        let bytes = values[(i * size)..<((i + 1) * size)].map { v -> UInt8 in
            guard !v.isNaN else { return 0 }
            return UInt8(Swift.min(Swift.max(v, 0), 1) * 255)  // truncates toward zero
        }
        return try RGBImage(width: w, height: h, pixels: bytes)
    }
}
