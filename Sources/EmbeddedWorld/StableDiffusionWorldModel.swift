import Checkpoints
import Engine
import Sampling
import Foundation
import GRPO
import Imaging
import Models
import NN
import Training

/// The embedded world's Stable Diffusion: a `UNet2DConditionModel` (the class that loads SD v1.4's UNet, on a tiny
/// config) conditioned by the world's CLIP-architecture text encoder, denoising the pixel latent grid
/// `[B, size/2, size/2, 12]` (``PixelCodec/grid(_:)``, the stand-in for SD's VAE latents) with a DDIM scheduler and
/// ε-prediction (SD v1) or v-prediction (SD 2; the committed model, see the README). Lets the DDIM/UNet path of GRPO
/// run end to end without a download.
///
/// Saved as a diffusers-style folder: `unet/` (config.json + diffusion_pytorch_model.safetensors),
/// `text_encoder/`, `tokenizer/vocab.json` (the world's word-level tokenizer), `scheduler/scheduler_config.json`,
/// and `world.json` (`{"architecture": "unet", "image_size": 32}`).
public final class StableDiffusionWorldModel: Module {
    public struct Settings: Codable, Sendable, Equatable {
        /// Always ``WorldArchitecture/unet`` for this model (the field tells the two world folders apart).
        public var architecture = WorldArchitecture.unet
        public var imageSize = 32
        public init() {}
        enum CodingKeys: String, CodingKey { case architecture, imageSize = "image_size" }
    }

    public let settings: Settings
    public let tokenizer: WorldTokenizer
    public let schedulerConfig: DDIMScheduler.Config
    @Child(key: "text_encoder") public var textEncoder: CLIPTextModel
    public let unet: UNet2DConditionModel

    public init(
        settings: Settings, tokenizer: WorldTokenizer, textEncoder: CLIPTextModel, unet: UNet2DConditionModel,
        schedulerConfig: DDIMScheduler.Config
    ) {
        precondition(
            unet.config.inChannels == PixelCodec.latentChannels && unet.config.outChannels == PixelCodec.latentChannels,
            """
            StableDiffusionWorldModel: the UNet must map \(PixelCodec.latentChannels) channels to \
            \(PixelCodec.latentChannels), got \(unet.config.inChannels) → \(unet.config.outChannels)
            """)
        self.settings = settings
        self.tokenizer = tokenizer
        self.unet = unet
        self.schedulerConfig = schedulerConfig
        super.init()
        self.textEncoder = textEncoder
    }

    /// The default UNet: two levels (32 and 64 channels, 16×16 and 8×8 for 32 px images), one ResNet per level,
    /// attention (self + cross to the 64-wide text states, 16-wide heads) at the 8×8 level and in the mid block only
    /// (attention over the 256 positions of the fine level would be most of the cost on a CPU).
    public static func defaultUNetConfig(imageSize: Int = 32) -> UNet2DConditionConfig {
        var c = UNet2DConditionConfig()
        c.sampleSize = [imageSize / 2]
        c.inChannels = PixelCodec.latentChannels
        c.outChannels = PixelCodec.latentChannels
        c.downBlockTypes = ["DownBlock2D", "CrossAttnDownBlock2D"]
        c.upBlockTypes = ["CrossAttnUpBlock2D", "UpBlock2D"]
        c.blockOutChannels = [32, 64]
        c.layersPerBlock = .all(1)
        c.attentionHeadDim = .each([2, 4])  // heads per block (diffusers' name): 16-wide heads
        c.crossAttentionDim = .all(64)
        c.normNumGroups = 8
        return c
    }

    /// SD v1's scheduler (scaled-linear β from 0.00085 to 0.012 over 1000 steps, `leading` spacing, steps_offset 1,
    /// ᾱ_final = ᾱ_0) with x̂0 clipped to [−1, 1] (`clip_sample`, DDPM's setting for pixel-space models: the
    /// latents here are pixels). Measured on a first pretraining with DDPM's linear β (1e-4 to 0.02, ᾱ_T ≈ 4e-5)
    /// and no clipping: x̂0 = (x − √(1−ᾱ)·ε̂)/√ᾱ amplified the ε errors of a briefly trained model
    /// ~150× at the first DDIM steps and every sample diverged to noise (held-out reward 0.011); SD's schedule bounds
    /// the amplification at ~15× and the clip keeps the trajectory in range.
    public static var defaultSchedulerConfig: DDIMScheduler.Config {
        var c = DDIMScheduler.Config.stableDiffusionV1
        c.clipSample = true
        return c
    }

    /// A fresh model with random weights; `unetConfig` replaces ``defaultUNetConfig(imageSize:)`` (tests use smaller
    /// ones). The UNet's output convolution starts at zero, so the first ε prediction is 0.
    /// `predictionType`: what the UNet outputs, the scheduler's `prediction_type` (`epsilon` as SD v1, `v_prediction`
    /// as SD 2, or `sample`).
    public static func create(
        seed: UInt64, settings: Settings = Settings(), unetConfig: UNet2DConditionConfig? = nil,
        predictionType: PredictionType = .epsilon
    ) -> StableDiffusionWorldModel {
        let tokenizer = WorldTokenizer.forShapesWorld()
        let keys = RandomKey(seed: seed).split(into: 2)
        let text = CLIPTextModel(WorldModel.textEncoderConfig(tokenizer), key: keys[0])
        var config = unetConfig ?? defaultUNetConfig(imageSize: settings.imageSize)
        config.crossAttentionDim = .all(text.config.hiddenSize)
        let unet = UNet2DConditionModel(config, key: keys[1])
        unet.convOut.weight = Tensor.zeros(unet.convOut.weight.shape)
        if let bias = unet.convOut.bias { unet.convOut.bias = Tensor.zeros(bias.shape) }
        var scheduler = defaultSchedulerConfig
        scheduler.predictionType = predictionType
        return StableDiffusionWorldModel(
            settings: settings, tokenizer: tokenizer, textEncoder: text, unet: unet, schedulerConfig: scheduler)
    }

    /// Reads a folder written by ``writeFolder(to:unetOnly:)``; errors name the file.
    public static func load(from folder: URL) throws -> StableDiffusionWorldModel {
        let worldFile = folder.appendingPathComponent("world.json")
        let settings = try ConfigFile.decode(Settings.self, from: worldFile)
        try WorldFolderCheck.unet(folder, imageSize: settings.imageSize)
        return StableDiffusionWorldModel(
            settings: settings, tokenizer: try WorldTokenizer.load(modelFolder: folder),
            textEncoder: try CLIPTextModel.load(from: folder.appendingPathComponent("text_encoder")),
            unet: try UNet2DConditionModel.load(from: folder.appendingPathComponent("unet")),
            schedulerConfig: try DDIMScheduler.Config.load(folder.appendingPathComponent("scheduler")))
    }

    /// A model folder (with `world.json`), or a training checkpoint (`checkpoint-<n>-<e>/`: `unet/`, or LoRA
    /// adapters, merged) applied to the UNet of the `base` model folder.
    /// `averaged`: a checkpoint's EMA values when it has some (`ema.safetensors`), else its trained values.
    public static func load(checkpointOrModel folder: URL, base: URL, averaged: Bool = true) throws
        -> StableDiffusionWorldModel
    {
        try WorldCheckpoint.load(
            folder, base: base, networkFolderName: "unet", averaged: averaged, loadModel: { try load(from: $0) },
            network: { $0.unet })
    }

    /// Writes the folder (each file atomically). `unetOnly` writes just `unet/` (GRPO checkpoints).
    public func writeFolder(to folder: URL, unetOnly: Bool = false) throws {
        try unet.writeFolder(to: folder.appendingPathComponent("unet"))
        if unetOnly { return }
        try WorldModel.writeText(textEncoder, tokenizer: tokenizer, to: folder)
        let schedulerFolder = folder.appendingPathComponent("scheduler")
        try FileManager.default.createDirectory(at: schedulerFolder, withIntermediateDirectories: true)
        var scheduler =
            try JSONSerialization.jsonObject(with: try JSONEncoder().encode(schedulerConfig)) as? [String: Any] ?? [:]
        scheduler["_class_name"] = "DDIMScheduler"
        try AtomicFile.write(
            try JSONSerialization.data(withJSONObject: scheduler, options: [.prettyPrinted, .sortedKeys]),
            to: schedulerFolder.appendingPathComponent("scheduler_config.json"))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(settings), to: folder.appendingPathComponent("world.json"))
    }

    /// One sample's latent: the pixel grid `[size/2, size/2, 12]`.
    public var latentShape: [Int] { [settings.imageSize / 2, settings.imageSize / 2, PixelCodec.latentChannels] }

    /// Text conditioning: the states `[B, L, 64]` under ``UNetPolicy``'s key (`encoder_hidden_states`).
    public func encode(_ prompts: [String]) -> Conditioning {
        Conditioning([UNetPolicy.textStatesKey: textEncoder(tokenizer(prompts)).lastHiddenState.asType(.float32)])
    }

    /// The UNet's output (ε, v or x0, as the scheduler's `prediction_type` says) for latent grids `x [B, h, w, 12]`
    /// at training timesteps `[B]` (0..<1000).
    public func networkOutput(_ x: Tensor, timesteps: Tensor, conditioning: Conditioning) -> Tensor {
        unet(x, timesteps: timesteps, encoderHiddenStates: conditioning[UNetPolicy.textStatesKey]).asType(.float32)
    }

    /// Latent grids `[B, h, w, 12]` → 8-bit images (values in [−1, 1], rounded).
    public func images(_ latents: Tensor) throws -> [RGBImage] {
        try PixelCodec.rgbImages(PixelCodec.images(fromGrid: latents))
    }
}
