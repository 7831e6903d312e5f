import Checkpoints
import Engine
import Sampling
import Foundation
import NN
import Tokenizers

/// The prompt conditioning FLUX's transformer takes: T5 states, the CLIP pooled vector and the text position ids.
public struct FluxPromptEmbeddings: @unchecked Sendable {
    /// `[B, L, joint_attention_dim]` from T5 (L = the max sequence length, 512 for FLUX).
    public let promptEmbeds: Tensor
    /// `[B, pooled_projection_dim]` from CLIP.
    public let pooledPromptEmbeds: Tensor
    /// `[L, 3]` zeros.
    public let textIds: Tensor

    public init(promptEmbeds: Tensor, pooledPromptEmbeds: Tensor, textIds: Tensor) {
        self.promptEmbeds = promptEmbeds
        self.pooledPromptEmbeds = pooledPromptEmbeds
        self.textIds = textIds
    }

    public var count: Int { promptEmbeds.dim(0) }
}

/// A diffusers FLUX folder (`transformer/`, `vae/`, `text_encoder/`, `tokenizer/`, `text_encoder_2/`, `tokenizer_2/`,
/// `scheduler/`) loaded for text-to-image sampling, computing what diffusers' `FluxPipeline.__call__` computes.
/// Text encoders are optional so that training can run from cached embeddings without loading them.
public final class FluxPipeline {
    public let transformer: FluxTransformer2DModel
    public let vae: AutoencoderKL
    public let schedulerConfig: FlowMatchEulerScheduler.Config
    public let textEncoders: FluxTextEncoders?

    public init(
        transformer: FluxTransformer2DModel, vae: AutoencoderKL, schedulerConfig: FlowMatchEulerScheduler.Config,
        textEncoders: FluxTextEncoders?
    ) {
        self.transformer = transformer
        self.vae = vae
        self.schedulerConfig = schedulerConfig
        self.textEncoders = textEncoders
    }

    /// Loads a FLUX folder. `transformerFolder` replaces `<folder>/transformer` (a fine-tuned transformer folder, or a
    /// training checkpoint folder that contains one);
    /// `dtype` casts the weights (nil keeps the files' dtypes, bf16 for the released FLUX.1 weights).
    public static func load(
        from folder: URL, dtype: DType? = nil, loadTextEncoders: Bool = true,
        transformerFolder: URL? = nil, progress: (String) -> Void = { _ in }
    ) throws -> FluxPipeline {
        try FluxPipeline.checkLayout(folder, needTextEncoders: loadTextEncoders)
        progress("transformer")
        // A training checkpoint folder (`checkpoint-<n>-<e>/`) holds its weights in `transformer/`.
        var override = transformerFolder
        if let given = transformerFolder,
            FileManager.default.fileExists(atPath: given.appendingPathComponent("transformer/config.json").path)
        {
            override = given.appendingPathComponent("transformer")
        }
        let transformer = try FluxTransformer2DModel.load(
            from: override ?? folder.appendingPathComponent("transformer"), dtype: dtype)
        progress("vae")
        let vae = try AutoencoderKL.load(from: folder.appendingPathComponent("vae"), dtype: dtype)
        let scheduler = try FlowMatchEulerScheduler.Config.load(folder.appendingPathComponent("scheduler"))
        var encoders: FluxTextEncoders?
        if loadTextEncoders {
            progress("text encoders")
            encoders = try FluxTextEncoders.load(from: folder, dtype: dtype)
        }
        return FluxPipeline(transformer: transformer, vae: vae, schedulerConfig: scheduler, textEncoders: encoders)
    }

    static func checkLayout(_ folder: URL, needTextEncoders: Bool) throws {
        var required = ["transformer", "vae", "scheduler"]
        if needTextEncoders { required += ["text_encoder", "tokenizer", "text_encoder_2", "tokenizer_2"] }
        let missing = required.filter {
            !FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path)
        }
        guard missing.isEmpty else {
            throw ModelFolderError.missingComponents(
                file: folder.path,
                reason:
                    """
                    not a diffusers FLUX folder: missing \(missing.joined(separator: ", ")) (expected \
                    \(required.joined(separator: "/, "))/)
                    """
            )
        }
    }

    /// Latent grid (VAE pixels / 8, even) for an image size; diffusers rounds sizes down to multiples of 16.
    public var vaeScaleFactor: Int { 1 << (vae.config.blockOutChannels.count - 1) }

    public func latentSize(height: Int, width: Int) -> (height: Int, width: Int) {
        FluxLatents.latentSize(imageHeight: height, imageWidth: width, vaeScaleFactor: vaeScaleFactor)
    }

    /// Packed initial noise `[B, tokens, 4·latent_channels]` drawn with `key` (per-prompt keys make a prompt's image
    /// independent of its batch).
    public func initialNoise(count: Int, height: Int, width: Int, key: RandomKey) -> Tensor {
        let (h, w) = latentSize(height: height, width: width)
        return FluxLatents.pack(Random.normal([count, h, w, vae.config.latentChannels], key: key))
    }

    /// The velocity at packed latents `x` for network timesteps `σ·1000` `[B]`.
    public func velocity(
        _ x: Tensor, timesteps: Tensor, embeddings: FluxPromptEmbeddings, imageIds: Tensor, guidance: Float?
    ) -> Tensor {
        let b = x.dim(0)
        let guidanceTensor = transformer.config.guidanceEmbeds ? Tensor.full([b], Double(guidance ?? 3.5)) : nil
        return transformer(
            hiddenStates: x, encoderHiddenStates: embeddings.promptEmbeds, pooled: embeddings.pooledPromptEmbeds,
            timestep: timesteps / 1000, imageIds: imageIds, textIds: embeddings.textIds, guidance: guidanceTensor)
    }

    /// Euler ODE sampling from packed `latents`, as `FluxPipeline.__call__` does; returns the final packed latents.
    /// `shift` overrides the scheduler's shift rule (DanceGRPO samples with a static shift).
    public func denoise(
        _ latents: Tensor, embeddings: FluxPromptEmbeddings, height: Int, width: Int, steps: Int, guidance: Float,
        shift: Float? = nil, progress: (Int, Int) -> Void = { _, _ in }
    ) -> Tensor {
        let (h, w) = latentSize(height: height, width: width)
        let imageIds = FluxLatents.imageIds(height: h, width: w)
        let scheduler = FlowMatchEulerScheduler(
            config: schedulerConfig, steps: steps, imageSequenceLength: latents.dim(1),
            shiftOverride: shift)
        var x = latents.asType(.float32)
        let dtype = transformer.xEmbedder.weight.dtype
        for i in 0..<steps {
            let t = Tensor.full([x.dim(0)], Double(scheduler.timesteps[i]))
            let v = velocity(
                x.asType(dtype), timesteps: t, embeddings: embeddings, imageIds: imageIds, guidance: guidance)
            x = scheduler.step(i, velocity: v, sample: x)
            eval(x)
            progress(i + 1, steps)
        }
        return x
    }

    /// Packed latents → images `[B, H, W, 3]` in [0, 1] (the pipeline's unpack, denormalise, decode, `x/2 + 0.5`
    /// clamp).
    public func decode(_ packed: Tensor, height: Int, width: Int) -> Tensor {
        let (h, w) = latentSize(height: height, width: width)
        let latents = vae.denormalize(FluxLatents.unpack(packed, height: h, width: w))
        let dtype = vae.decoder.convIn.weight.dtype
        let images = vae.decode(latents.asType(dtype)).asType(.float32)
        return (images * 0.5 + 0.5).clipped(min: 0, max: 1)
    }
}
