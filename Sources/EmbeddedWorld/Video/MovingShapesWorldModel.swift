import Checkpoints
import Engine
import Foundation
import GRPO
import Imaging
import Models
import NN
import ShapesWorld

/// The moving-shapes world's text-to-video model: the world's CLIP-architecture text encoder and a
/// `WanTransformer3DModel` (the class that loads Wan-2.1, on a tiny config) denoising clips through
/// ``VideoPixelCodec`` (pixels rearranged 2×2 per frame, in Wan's latent layout), with Wan's conventions: velocity
/// prediction, timesteps given unscaled (0…1000), text states cross-attended.
///
/// Saved as a folder like a diffusers Wan checkpoint: `transformer/` (Wan config + safetensors), `text_encoder/`,
/// `tokenizer/vocab.json`, `world.json` (`{"architecture": "wan", "image_size": 32, "frames": 5, "speed": 2}`).
public final class MovingShapesWorldModel: Module {
    public struct Settings: Codable, Sendable, Equatable {
        /// Always ``WorldArchitecture/wan`` (the field tells world folders apart).
        public var architecture = WorldArchitecture.wan
        public var imageSize = 32
        /// Frames per clip.
        public var frames = 5
        /// Pixels the objects of a correct clip move per frame (the scorer's expected travel follows from it).
        public var speed = 2
        public init() {}
        enum CodingKeys: String, CodingKey { case architecture, imageSize = "image_size", frames, speed }

        /// The renderer of the clips this model learns from, and whose travel the scorer expects.
        public var renderer: MovingShapeRenderer {
            MovingShapeRenderer(renderer: ShapeRenderer(size: imageSize), frames: frames, speed: speed)
        }
    }

    public let settings: Settings
    public let tokenizer: WorldTokenizer
    @Child(key: "text_encoder") public var textEncoder: CLIPTextModel
    public let transformer: WanTransformer3DModel

    public init(
        settings: Settings, tokenizer: WorldTokenizer, textEncoder: CLIPTextModel, transformer: WanTransformer3DModel
    ) {
        self.settings = settings
        self.tokenizer = tokenizer
        self.transformer = transformer
        super.init()
        self.textEncoder = textEncoder
    }

    /// The transformer of a fresh model: `heads` heads of `headDim` features, `layers` Wan blocks, a feed-forward
    /// twice the width, text states of the world's encoder width.
    public static func transformerConfig(heads: Int, headDim: Int = 16, layers: Int, textDim: Int)
        -> WanTransformer3DConfig
    {
        var c = WanTransformer3DConfig()
        c.patchSize = [1, 2, 2]
        c.numAttentionHeads = heads
        c.attentionHeadDim = headDim
        c.inChannels = VideoPixelCodec.latentChannels
        c.outChannels = VideoPixelCodec.latentChannels
        c.textDim = textDim
        c.freqDim = 64
        c.ffnDim = 2 * heads * headDim
        c.numLayers = layers
        c.ropeMaxSeqLen = 64
        return c
    }

    /// A fresh model with random weights, its output projection at zero (so the first velocity is 0).
    public static func create(
        seed: UInt64, settings: Settings = Settings(), heads: Int = 4, headDim: Int = 16, layers: Int = 4
    ) -> MovingShapesWorldModel {
        let tokenizer = WorldTokenizer.forMovingShapesWorld()
        let text = WorldModel.textEncoderConfig(tokenizer)
        let keys = RandomKey(seed: seed).split(into: 2)
        let model = MovingShapesWorldModel(
            settings: settings, tokenizer: tokenizer, textEncoder: CLIPTextModel(text, key: keys[0]),
            transformer: WanTransformer3DModel(
                transformerConfig(heads: heads, headDim: headDim, layers: layers, textDim: text.hiddenSize),
                key: keys[1]))
        model.transformer.projOut.weight = Tensor.zeros(model.transformer.projOut.weight.shape)
        return model
    }

    /// Reads a folder written by ``writeFolder(to:transformerOnly:)``; its parts are checked against each other
    /// first (errors name the file and key).
    public static func load(from folder: URL) throws -> MovingShapesWorldModel {
        let settings = try ConfigFile.decode(Settings.self, from: folder.appendingPathComponent("world.json"))
        try WorldFolderCheck.wan(folder, settings: settings)
        return MovingShapesWorldModel(
            settings: settings, tokenizer: try WorldTokenizer.load(modelFolder: folder),
            textEncoder: try CLIPTextModel.load(from: folder.appendingPathComponent("text_encoder")),
            transformer: try WanTransformer3DModel.load(from: folder.appendingPathComponent("transformer")))
    }

    /// A model folder (with `world.json`), or a training checkpoint (`checkpoint-<n>-<e>/`: `transformer/`, or LoRA
    /// adapters, merged) applied to the transformer of the `base` model folder.
    public static func load(checkpointOrModel folder: URL, base: URL, averaged: Bool = true) throws
        -> MovingShapesWorldModel
    {
        try WorldCheckpoint.load(
            folder, base: base, networkFolderName: "transformer", averaged: averaged, loadModel: { try load(from: $0) },
            network: { $0.transformer })
    }

    /// Writes the folder (each file atomically). `transformerOnly` rewrites just `transformer/` (GRPO checkpoints).
    public func writeFolder(to folder: URL, transformerOnly: Bool = false) throws {
        try transformer.writePretrainedFolder(folder.appendingPathComponent("transformer"), config: transformer.config)
        if transformerOnly { return }
        try WorldModel.writeText(textEncoder, tokenizer: tokenizer, to: folder)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(settings), to: folder.appendingPathComponent("world.json"))
    }

    /// One clip's latent shape `[12, F, size/2, size/2]`.
    public var latentShape: [Int] { VideoPixelCodec.latentShape(frames: settings.frames, size: settings.imageSize) }

    /// Text conditioning: the encoder's states `[B, L, 64]`.
    public func encode(_ prompts: [String]) -> Conditioning {
        Conditioning(["encoder_hidden_states": textEncoder(tokenizer(prompts)).lastHiddenState])
    }

    /// v for latents `[B, 12, F, h, w]` at timesteps τ ∈ [0, 1000] (σ = τ/1000), passed to Wan unscaled as
    /// diffusers' Wan pipeline passes them.
    public func velocity(_ x: Tensor, timesteps: Tensor, conditioning: Conditioning) -> Tensor {
        transformer(hiddenStates: x, timestep: timesteps, encoderHiddenStates: conditioning["encoder_hidden_states"])
    }

    /// Final latents → each clip's 8-bit frames.
    public func videos(_ latents: Tensor) throws -> [[RGBImage]] {
        try VideoPixelCodec.frames(VideoPixelCodec.decode(latents.asType(.float32)))
    }
}

/// GRPO's view of the moving-shapes model: the transformer is trained, the text encoder frozen.
public final class MovingShapesWorldPolicy: SnapshotReferencePolicy {
    public let model: MovingShapesWorldModel
    public let reference: ReferenceWeights?
    public init(model: MovingShapesWorldModel, reference: ReferenceWeights? = nil) {
        self.model = model
        self.reference = reference
    }
    public var module: Module { model.transformer }
    public func modelOutput(_ x: Tensor, timesteps: Tensor, conditioning: Conditioning) -> Tensor {
        model.velocity(x, timesteps: timesteps, conditioning: conditioning)
    }
}
