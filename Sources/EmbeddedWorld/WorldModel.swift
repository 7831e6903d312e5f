import Checkpoints
import Engine
import Foundation
import GRPO
import Imaging
import Models
import NN

/// The embedded default's text-to-image model: a CLIP-architecture text encoder and a FLUX-architecture transformer
/// (the same classes that load real checkpoints, on tiny configs) over latents of a tiny `AutoencoderKL` (as FLUX's
/// own VAE; `codec: vae`) or over raw pixels rearranged (``PixelCodec``; `codec: pixels`, the first models).
/// Saved as a folder like a diffusers checkpoint: `transformer/` (FLUX config + safetensors), `vae/`, `text_encoder/`,
/// `tokenizer/vocab.json`, `world.json`.
public final class WorldModel: Module {
    public struct Settings: Codable, Sendable, Equatable {
        public var imageSize = 32
        /// What the transformer outputs: `velocity` (the FLUX convention, and the committed model's) or `sample`
        /// (x̂0, converted to v = (x − x̂0)/σ for the samplers; the JiT recipe for pixel-space models, Li & He
        /// 2025). Measured on the shapes world: x̂0-prediction did not help this 471K-parameter model (3000 steps:
        /// held-out reward 0.168, as speckled as the velocity model's 0.213 at 6000 steps), so velocity stays the
        /// default.
        public var prediction: Prediction = .velocity
        /// What the transformer denoises: raw pixels (`pixels`) or the latents of the model's VAE (`vae`).
        public var codec: Codec = .pixels
        public init() {}

        public enum Prediction: String, Codable, Sendable { case velocity, sample }
        public enum Codec: String, Codable, Sendable { case pixels, vae }
        enum CodingKeys: String, CodingKey { case imageSize = "image_size", prediction, codec }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            imageSize = try c.decode(Int.self, forKey: .imageSize)
            // Folders written before the setting existed hold velocity models.
            prediction = try c.decodeIfPresent(Prediction.self, forKey: .prediction) ?? .velocity
            codec = try c.decodeIfPresent(Codec.self, forKey: .codec) ?? .pixels
        }
    }

    public let settings: Settings
    public let tokenizer: WorldTokenizer
    @Child(key: "text_encoder") public var textEncoder: CLIPTextModel
    public let transformer: FluxTransformer2DModel
    /// The latent codec when `settings.codec` is `vae` (frozen once trained: pretraining and GRPO train the
    /// transformer).
    public let vae: AutoencoderKL?

    public init(
        settings: Settings, tokenizer: WorldTokenizer, textEncoder: CLIPTextModel, transformer: FluxTransformer2DModel,
        vae: AutoencoderKL? = nil
    ) {
        precondition(
            (settings.codec == .vae) == (vae != nil),
            "WorldModel: codec \(settings.codec) with\(vae == nil ? "out" : "") a VAE")
        self.settings = settings
        self.tokenizer = tokenizer
        self.transformer = transformer
        self.vae = vae
        super.init()
        self.textEncoder = textEncoder
        vae?.freeze()
    }

    /// A fresh model with random weights: `heads` attention heads of 16 features in the transformer (its width is
    /// 16·heads), `layers` double-stream and `layers` single-stream blocks. The committed model: 4 heads, 2 layers.
    /// With `settings.codec == .vae`, `vae` is the (trained) codec the transformer will denoise the latents of.
    public static func create(
        seed: UInt64, settings: Settings = Settings(), heads: Int = 4, layers: Int = 2,
        vae: AutoencoderKL? = nil
    ) -> WorldModel {
        let tokenizer = WorldTokenizer.forShapesWorld()
        let text = textEncoderConfig(tokenizer)
        var flux = FluxConfig()
        flux.inChannels = WorldLatents.tokenFeatures(settings: settings, vae: vae)
        flux.numLayers = layers
        flux.numSingleLayers = layers
        flux.attentionHeadDim = 16
        flux.numAttentionHeads = heads
        flux.jointAttentionDim = 64
        flux.pooledProjectionDim = 64
        flux.guidanceEmbeds = false
        flux.axesDimsRope = [4, 6, 6]
        let keys = RandomKey(seed: seed).split(into: 2)
        let model = WorldModel(
            settings: settings, tokenizer: tokenizer, textEncoder: CLIPTextModel(text, key: keys[0]),
            transformer: FluxTransformer2DModel(flux, key: keys[1]), vae: vae)
        // The output projection starts at zero (as DiT/FLUX training recipes do), so the first velocity is 0.
        model.transformer.projOut.weight = Tensor.zeros(model.transformer.projOut.weight.shape)
        return model
    }

    /// The world's CLIP-architecture text encoder (64-wide, 2 layers, 4 heads) for `tokenizer`'s vocabulary and
    /// length; shared by the FLUX and UNet world models.
    public static func textEncoderConfig(_ tokenizer: WorldTokenizer) -> CLIPTextConfig {
        var text = CLIPTextConfig()
        text.vocabSize = tokenizer.vocabulary.count
        text.hiddenSize = 64
        text.intermediateSize = 128
        text.numHiddenLayers = 2
        text.numAttentionHeads = 4
        text.maxPositionEmbeddings = tokenizer.maxLength
        text.eosTokenId = tokenizer.endID
        text.projectionDim = 64
        return text
    }

    public static func load(from folder: URL) throws -> WorldModel {
        let settings = try ConfigFile.decode(Settings.self, from: folder.appendingPathComponent("world.json"))
        try WorldFolderCheck.flux(folder, settings: settings)
        return WorldModel(
            settings: settings, tokenizer: try WorldTokenizer.load(modelFolder: folder),
            textEncoder: try CLIPTextModel.load(from: folder.appendingPathComponent("text_encoder")),
            transformer: try FluxTransformer2DModel.load(from: folder.appendingPathComponent("transformer")),
            vae: settings.codec == .vae ? try AutoencoderKL.load(from: folder.appendingPathComponent("vae")) : nil)
    }

    /// A model folder (with `world.json`), or a training checkpoint (`checkpoint-<n>-<e>/`: `transformer/`, or LoRA
    /// adapters, merged) applied to the transformer of the `base` model folder.
    /// `averaged`: a checkpoint's EMA values when it has some (`ema.safetensors`), else its trained values.
    public static func load(checkpointOrModel folder: URL, base: URL, averaged: Bool = true) throws -> WorldModel {
        try WorldCheckpoint.load(
            folder, base: base, networkFolderName: "transformer", averaged: averaged, loadModel: { try load(from: $0) },
            network: { $0.transformer })
    }

    /// Writes the folder (each file atomically). `transformerOnly` rewrites just `transformer/` (GRPO checkpoints).
    public func writeFolder(to folder: URL, transformerOnly: Bool = false) throws {
        try transformer.writePretrainedFolder(folder.appendingPathComponent("transformer"), config: transformer.config)
        if transformerOnly { return }
        try WorldModel.writeText(textEncoder, tokenizer: tokenizer, to: folder)
        if let vae { try WorldLatents.writeVAE(vae, to: folder.appendingPathComponent("vae")) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(settings), to: folder.appendingPathComponent("world.json"))
    }

    /// Writes `text_encoder/` (transformers' config.json + model.safetensors) and `tokenizer/vocab.json` into a
    /// world model folder; shared by the FLUX and UNet world models.
    static func writeText(_ textEncoder: CLIPTextModel, tokenizer: WorldTokenizer, to folder: URL) throws {
        try textEncoder.writePretrainedFolder(
            folder.appendingPathComponent("text_encoder"), config: textEncoder.config,
            weightsName: "model.safetensors")
        try tokenizer.save(to: folder.appendingPathComponent("tokenizer"))
    }

    public var latentShape: [Int] { WorldLatents.latentShape(settings: settings, vae: vae) }

    /// Images `[B, H, W, 3]` in [−1, 1] → the transformer's packed latents (pretraining targets).
    public func latents(of images: Tensor) -> Tensor {
        guard let vae else { return PixelCodec.encode(images) }
        return FluxLatents.pack(vae.normalize(vae.encode(images).mode())).stopGradient()
    }

    /// Text conditioning `[B, L, 64]` states and `[B, 64]` pooled vectors.
    public func encode(_ prompts: [String]) -> Conditioning {
        let out = textEncoder(tokenizer(prompts))
        return Conditioning(["encoder_hidden_states": out.lastHiddenState, "pooled": out.pooled])
    }

    /// v for packed latents at network timesteps τ ∈ [0, 1000] (τ/1000 = σ, the noise level).
    public func velocity(_ x: Tensor, timesteps: Tensor, conditioning: Conditioning) -> Tensor {
        let out = networkOutput(x, timesteps: timesteps, conditioning: conditioning)
        switch settings.prediction {
        case .velocity: return out
        case .sample:
            // σ ≥ 1e-3 keeps v finite; samplers only evaluate the network at σ > 0.
            let sigma = (timesteps / 1000).maximum(1e-3).reshaped([x.dim(0)] + [Int](repeating: 1, count: x.ndim - 1))
            return (x - out) / sigma
        }
    }

    /// The transformer's raw output: v or x̂0, as `settings.prediction` says.
    public func networkOutput(_ x: Tensor, timesteps: Tensor, conditioning: Conditioning) -> Tensor {
        let textLength = conditioning["encoder_hidden_states"].dim(1)
        return transformer(
            hiddenStates: x, encoderHiddenStates: conditioning["encoder_hidden_states"], pooled: conditioning["pooled"],
            timestep: timesteps / 1000, imageIds: WorldLatents.imageIds(settings: settings, vae: vae),
            textIds: FluxLatents.textIds(length: textLength))
    }

    /// Packed latents → 8-bit images.
    public func images(_ latents: Tensor) throws -> [RGBImage] {
        try PixelCodec.rgbImages(WorldLatents.decode(latents, settings: settings, vae: vae))
    }
}

/// GRPO's view of the world model: only the transformer is trained (the text encoder is frozen, as in DanceGRPO).
public final class WorldPolicy: SnapshotReferencePolicy {
    public let model: WorldModel
    /// The initial weights, for the KL penalty (nil without one).
    public let reference: ReferenceWeights?
    public init(model: WorldModel, reference: ReferenceWeights? = nil) {
        self.model = model
        self.reference = reference
    }
    public var module: Module { model.transformer }
    public func modelOutput(_ x: Tensor, timesteps: Tensor, conditioning: Conditioning) -> Tensor {
        model.velocity(x, timesteps: timesteps, conditioning: conditioning)
    }
}
