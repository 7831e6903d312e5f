import Checkpoints
import Engine
import Sampling
import Foundation
import NN
import Tokenizers

/// A DDIM trajectory: the latents x_T … x_0 (channels-last, float32), the log-probability of each transition
/// (`[B]` each; zeros at η = 0) and the timesteps the steps were taken at.
public struct DDIMTrajectory: @unchecked Sendable {
    /// `steps + 1` latents when kept (the first is the initial noise), otherwise only the final one.
    public var latents: [Tensor]
    /// One `[B]` tensor per step when kept, otherwise empty.
    public var logProbs: [Tensor]
    public let timesteps: [Int]
    /// The last latent (what the VAE decodes).
    public var final: Tensor { latents[latents.count - 1] }
}

/// A diffusers Stable Diffusion v1 folder (`unet/`, `vae/`, `text_encoder/`, `tokenizer/`, `scheduler/`) loaded for
/// text-to-image sampling with DDIM, computing what diffusers' `StableDiffusionPipeline.__call__` computes with a
/// `DDIMScheduler` (DanceGRPO's `pipeline_with_logprob`, which adds the per-step log-probabilities):
/// - prompts → CLIP token ids padded to 77 → `last_hidden_state`; the unconditional branch is the empty prompt;
/// - classifier-free guidance `ε_u + w·(ε_c − ε_u)` from one UNet call on the batch `[uncond…, cond…]` (off
///   when w ≤ 1, as diffusers does);
/// - DDIM steps ``ddimStep(_:modelOutput:timesteps:sample:eta:previousSample:noise:)`` at the scheduler's timesteps;
/// - `vae.decode(latents / scaling_factor)`, then `x/2 + 0.5` clamped to [0, 1].
/// Latents are channels-last `[B, H/8, W/8, 4]`; images `[B, H, W, 3]`. The text encoder is optional so that
/// training can run from cached embeddings.
public final class StableDiffusionPipeline {
    public let unet: UNet2DConditionModel
    public let vae: AutoencoderKL
    public let schedulerConfig: DDIMScheduler.Config
    public let tokenizer: CLIPTokenizer?
    public let textEncoder: CLIPTextModel?

    public init(
        unet: UNet2DConditionModel, vae: AutoencoderKL, schedulerConfig: DDIMScheduler.Config,
        tokenizer: CLIPTokenizer?, textEncoder: CLIPTextModel?
    ) {
        self.unet = unet
        self.vae = vae
        self.schedulerConfig = schedulerConfig
        self.tokenizer = tokenizer
        self.textEncoder = textEncoder
    }

    /// Loads an SD folder. `unetFolder` replaces `<folder>/unet` (a fine-tuned UNet folder, or a training checkpoint
    /// folder that contains `unet/`); `dtype` casts the weights (nil keeps the files'). The VAE is loaded in float32
    /// unless `dtype` says otherwise (its config's `force_upcast`).
    public static func load(
        from folder: URL, dtype: DType? = nil, loadTextEncoder: Bool = true, unetFolder: URL? = nil,
        progress: (String) -> Void = { _ in }
    ) throws -> StableDiffusionPipeline {
        try checkLayout(folder, needTextEncoder: loadTextEncoder)
        progress("unet")
        var unetSource = unetFolder ?? folder.appendingPathComponent("unet")
        if let given = unetFolder,
            FileManager.default.fileExists(atPath: given.appendingPathComponent("unet/config.json").path)
        {
            unetSource = given.appendingPathComponent("unet")
        }
        let unet = try UNet2DConditionModel.load(from: unetSource, dtype: dtype)
        progress("vae")
        let vae = try AutoencoderKL.load(from: folder.appendingPathComponent("vae"), dtype: dtype)
        let scheduler = try DDIMScheduler.Config.load(folder.appendingPathComponent("scheduler"))
        var tokenizer: CLIPTokenizer?, textEncoder: CLIPTextModel?
        if loadTextEncoder {
            progress("text encoder")
            let tokenizerFolder = folder.appendingPathComponent("tokenizer")
            let encoderFolder = folder.appendingPathComponent("text_encoder")
            let loaded = try CLIPTokenizer(directory: tokenizerFolder)
            let config = try CLIPTextConfig.load(encoderFolder)
            try TokenizerFit.check(
                loaded, fits: config, sequenceLength: max(Self.sequenceLength, loaded.defaultMaxLength),
                tokenizer: tokenizerFolder.path, model: encoderFolder.appendingPathComponent("config.json").path)
            tokenizer = loaded
            textEncoder = try CLIPTextModel.load(from: encoderFolder, dtype: dtype)
        }
        return StableDiffusionPipeline(
            unet: unet, vae: vae, schedulerConfig: scheduler, tokenizer: tokenizer, textEncoder: textEncoder)
    }

    /// Every missing part in one error.
    static func checkLayout(_ folder: URL, needTextEncoder: Bool) throws {
        var required = ["unet", "vae", "scheduler"]
        if needTextEncoder { required += ["text_encoder", "tokenizer"] }
        let missing = required.filter {
            !FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path)
        }
        guard missing.isEmpty else {
            throw ModelFolderError.missingComponents(
                file: folder.path,
                reason:
                    """
                    not a diffusers Stable Diffusion folder: missing \(missing.joined(separator: ", ")) (expected \
                    \(required.joined(separator: "/, "))/)
                    """
            )
        }
    }

    // MARK: - Text

    /// The length prompts are padded and truncated to (SD v1's tokenizer `model_max_length`).
    public static let sequenceLength = 77

    /// CLIP token ids `[B, 77]` (int32), padded and truncated as the pipeline does.
    public func tokenize(_ prompts: [String]) -> Tensor {
        guard let tokenizer else { preconditionFailure("StableDiffusionPipeline: loaded without the text encoder") }
        let batch = tokenizer(prompts, maxLength: Self.sequenceLength)
        return TokenIDTensor.make(batch.ids)
    }

    /// The text states the UNet attends to, `[B, 77, D]` float32 (CLIP's `last_hidden_state`, no attention mask).
    public func encode(_ prompts: [String]) -> Tensor {
        guard let textEncoder else { preconditionFailure("StableDiffusionPipeline: loaded without the text encoder") }
        return textEncoder(tokenize(prompts)).lastHiddenState.asType(.float32)
    }

    /// The unconditional branch's states: the empty prompt, `[1, 77, D]`.
    public func unconditionalEmbedding() -> Tensor { encode([""]) }

    // MARK: - Latents

    /// How much the VAE shrinks an image side (8 for SD).
    public var vaeScaleFactor: Int { vae.config.downsamplingFactor }

    /// The latent grid for an image size (diffusers requires sides divisible by 8 and ⌊side/8⌋ is what it uses).
    public func latentSize(height: Int, width: Int) -> (height: Int, width: Int) {
        (height / vaeScaleFactor, width / vaeScaleFactor)
    }

    /// Initial noise `[count, h, w, in_channels]` (DDIM's init_noise_sigma is 1).
    public func initialNoise(count: Int, height: Int, width: Int, key: RandomKey) -> Tensor {
        let (h, w) = latentSize(height: height, width: width)
        return Random.normal([count, h, w, unet.config.inChannels], key: key)
    }

    // MARK: - Denoising

    /// The guided network output for latents `x [B, h, w, C]` at training timesteps `timesteps` (one, or one per
    /// sample), text states `conditional [B, L, D]` and the unconditional states (`[1, L, D]` or `[B, L, D]`):
    /// `ε_u + w·(ε_c − ε_u)` from one UNet call on `[x, x]` with `[uncond, cond]`, computed in float32. With
    /// `guidance` ≤ 1 or no unconditional states, one plain call. Training recomputes it with the same function.
    public func noisePrediction(
        _ x: Tensor, timesteps: [Int], conditional: Tensor, unconditional: Tensor?, guidance: Float
    ) -> Tensor {
        let b = x.dim(0)
        let t = Tensor((timesteps.count == 1 ? Array(repeating: timesteps[0], count: b) : timesteps).map(Int32.init))
        guard guidance > 1, let unconditional else {
            return unet(x, timesteps: t, encoderHiddenStates: conditional).asType(.float32)
        }
        let uncond =
            unconditional.dim(0) == b
            ? unconditional : unconditional.broadcast(to: [b] + Array(unconditional.shape.dropFirst()))
        let output = unet(
            concatenated([x, x], axis: 0), timesteps: concatenated([t, t], axis: 0),
            encoderHiddenStates: concatenated([uncond.asType(conditional.dtype), conditional], axis: 0)
        ).asType(.float32)
        let (u, c) = (output[..<b], output[b...])
        return u + guidance * (c - u)
    }

    /// DDIM sampling from `latents [B, h, w, C]` over `steps` steps with guidance `guidance` and noise scale `eta`
    /// (0: deterministic DDIM, the diffusers pipeline's default; 1: DDPO/DanceGRPO rollouts). The per-step noise is
    /// `stepNoise[i]` when given (parity tests), otherwise drawn from `noiseKey` (step i uses the i-th of
    /// `steps` keys split from it). `keepTrajectory` keeps every latent and log-prob (what a GRPO rollout stores).
    public func denoise(
        _ latents: Tensor, conditional: Tensor, unconditional: Tensor?, steps: Int, guidance: Float, eta: Float,
        noiseKey: RandomKey = RandomKey(seed: 0), stepNoise: [Tensor]? = nil, keepTrajectory: Bool = false,
        progress: (Int, Int) -> Void = { _, _ in }
    ) -> DDIMTrajectory {
        precondition(
            stepNoise == nil || stepNoise!.count == steps,
            "StableDiffusionPipeline.denoise: \(stepNoise!.count) noise tensors for \(steps) steps")
        let scheduler = DDIMScheduler(config: schedulerConfig, steps: steps)
        let keys = eta > 0 && stepNoise == nil ? noiseKey.split(into: steps) : []
        var x = latents.asType(.float32)
        var trajectory = DDIMTrajectory(
            latents: keepTrajectory ? [x] : [], logProbs: [], timesteps: scheduler.timesteps)
        for (i, t) in scheduler.timesteps.enumerated() {
            let output = noisePrediction(
                x, timesteps: [t], conditional: conditional, unconditional: unconditional, guidance: guidance)
            let noise = eta > 0 ? (stepNoise?[i] ?? Random.normal(x.shape, key: keys[i])) : nil
            let step = ddimStep(scheduler, modelOutput: output, timesteps: [t], sample: x, eta: eta, noise: noise)
            x = step.sample
            if keepTrajectory {
                eval(x, step.logProb)
                trajectory.latents.append(x)
                trajectory.logProbs.append(step.logProb)
            } else {
                eval(x)
            }
            progress(i + 1, steps)
        }
        if !keepTrajectory { trajectory.latents = [x] }
        return trajectory
    }

    /// Latents `[B, h, w, 4]` → images `[B, h·8, w·8, 3]` in [0, 1]: `vae.decode(latents / scaling_factor)`, then
    /// the pipeline's `x/2 + 0.5` clamped.
    public func decode(_ latents: Tensor) -> Tensor {
        let dtype = vae.decoder.convIn.weight.dtype
        let images = vae.decode(vae.denormalize(latents.asType(.float32)).asType(dtype)).asType(.float32)
        return (images * 0.5 + 0.5).clipped(min: 0, max: 1)
    }
}
