import Checkpoints
import Engine
import Foundation
import Sampling

/// diffusers' `QwenImagePipeline` (text to image) on a diffusers Qwen-Image folder (`Qwen/Qwen-Image`): the
/// transformer, the VAE, the Qwen2.5-VL text side and the folder's scheduler. Latents are packed as the pipeline keeps
/// them, `[B, (h/2)·(w/2), 4·z_dim]` for a latent grid h × w = H/8 × W/8 (``QwenImageLatents``): the layout
/// `__call__` takes as `latents` and returns with `output_type="latent"`.
/// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/pipelines/qwenimage/pipeline_qwenimage.py
public final class QwenImagePipeline {
    public let transformer: QwenImageTransformer2DModel
    public let vae: AutoencoderKLQwenImage
    public let textEncoding: QwenImageTextEncoding
    public let scheduler: SchedulerConfig

    /// `__call__`'s defaults: `default_sample_size` 128 latent cells × the VAE's 8, 50 steps, `true_cfg_scale` 4,
    /// text cut at 512 tokens.
    public static let defaultSize = 1024
    public static let defaultSteps = 50
    public static let defaultTrueCFGScale: Float = 4
    public static let defaultMaxSequenceLength = 512

    public init(
        transformer: QwenImageTransformer2DModel, vae: AutoencoderKLQwenImage, textEncoding: QwenImageTextEncoding,
        scheduler: SchedulerConfig
    ) {
        self.transformer = transformer
        self.vae = vae
        self.textEncoding = textEncoding
        self.scheduler = scheduler
    }

    /// Loads `transformer/` (or `transformerFolder`, e.g. a training checkpoint's), `vae/`, `text_encoder/`,
    /// `tokenizer/` and `scheduler/` of a diffusers Qwen-Image folder; `dtype` nil keeps the checkpoints' own.
    public static func load(from folder: URL, dtype: DType? = nil, transformerFolder: URL? = nil) throws
        -> QwenImagePipeline
    {
        try ModelFolderError.checkComponents(
            ["transformer", "vae", "text_encoder", "tokenizer", "scheduler"], in: folder, model: "Qwen-Image")
        let transformerURL = TransformerFolder.url(in: folder, replacement: transformerFolder)
        let transformer = try QwenImageTransformer2DModel.load(from: transformerURL, dtype: dtype)
        let vae = try AutoencoderKLQwenImage.load(from: folder.appendingPathComponent("vae"), dtype: dtype)
        let zDim = vae.config.zDim
        let config = transformer.config
        guard config.inChannels == 4 * zDim, config.outputChannels == zDim, !config.guidanceEmbeds else {
            throw ModelFolderError.missingComponents(
                file: folder.path,
                reason:
                    """
                    the transformer takes \(config.inChannels) and returns \(config.outputChannels) channels \
                    (guidance_embeds \(config.guidanceEmbeds)); the VAE's z_dim \(zDim) needs \(4 * zDim) and \(zDim) \
                    without guidance embedding
                    """)
        }
        let textEncoding = try QwenImageTextEncoding.load(from: folder, dtype: dtype)
        guard textEncoding.textEncoder.config.hiddenSize == config.jointAttentionDim else {
            throw ModelFolderError.missingComponents(
                file: folder.path,
                reason:
                    "the text encoder's hidden size \(textEncoding.textEncoder.config.hiddenSize) is not the "
                    + "transformer's joint_attention_dim \(config.jointAttentionDim)")
        }
        let scheduler = try SchedulerConfig.load(folder.appendingPathComponent("scheduler"))
        return QwenImagePipeline(transformer: transformer, vae: vae, textEncoding: textEncoding, scheduler: scheduler)
    }

    /// Pixels per latent cell.
    public var vaeScaleFactor: Int { vae.config.spatialCompression }

    /// The latent grid for an image size, rounded down to even as `prepare_latents` does.
    public func latentGrid(height: Int, width: Int) -> (height: Int, width: Int) {
        QwenImageLatents.latentSize(imageHeight: height, imageWidth: width, vaeScaleFactor: vaeScaleFactor)
    }

    /// One sample's packed latent shape `[(h/2)·(w/2), 4·z_dim]` for an image of `height × width`.
    public func latentShape(height: Int, width: Int) -> [Int] {
        let grid = latentGrid(height: height, width: width)
        return [(grid.height / 2) * (grid.width / 2), 4 * vae.config.zDim]
    }

    /// Standard normal packed initial latents `[count, (h/2)·(w/2), 4·z_dim]`: `prepare_latents` draws
    /// `[B, 1, z_dim, h, w]` and packs it.
    public func initialNoise(count: Int, height: Int, width: Int, key: RandomKey) -> Tensor {
        let grid = latentGrid(height: height, width: width)
        let noise = Random.normal([count, vae.config.zDim, grid.height, grid.width], key: key)
        return QwenImageLatents.pack(noise)
    }

    /// `encode_prompt` for each prompt: `(prompt_embeds [B, L, hidden], mask [B, L] or nil when every row is full)`.
    public func encodePrompt(_ prompts: [String], maxSequenceLength: Int = defaultMaxSequenceLength) -> (
        promptEmbeds: Tensor, mask: Tensor?
    ) {
        textEncoding.encodePrompt(prompts, maxSequenceLength: maxSequenceLength)
    }

    /// The scheduler as `__call__` sets it for `steps` steps on an image of `height × width`: sigmas
    /// `linspace(1, 1/steps)`, μ of the folder's dynamic shifting from the packed token count (`calculate_shift`), and
    /// the folder's `shift_terminal`.
    public func schedule(steps: Int, height: Int, width: Int) -> FolderScheduler {
        scheduler.scheduler(steps: steps, imageSequenceLength: latentShape(height: height, width: width)[0])
    }

    /// The transformer's velocity for packed latents `[B, Li, 4·z_dim]` on a `height × width` image, timesteps
    /// `[B]` as the transformer takes them (the scheduler's σ·1000 over 1000) and text `[B, L, hidden]` with its
    /// mask. With a `condition` (Qwen-Image-Edit), its packed latents are joined after `x` with both grids in
    /// `img_shapes`, and only the first `Li` tokens of the output are the velocity.
    public func velocity(
        _ x: Tensor, timesteps: Tensor, promptEmbeds: Tensor, mask: Tensor?, height: Int, width: Int,
        condition: QwenImageConditionLatents? = nil
    ) -> Tensor {
        let dtype = transformer.projOut.weight.dtype
        let grid = latentGrid(height: height, width: width)
        var shapes = [QwenImageLatents.imageShape(height: grid.height, width: grid.width)]
        var input = x
        if let condition {
            input = concatenated([x, Self.rows(condition.latents.asType(x.dtype), x.dim(0))], axis: 1)
            shapes.append(condition.shape)
        }
        let out = transformer(
            hiddenStates: input.asType(dtype), encoderHiddenStates: promptEmbeds.asType(dtype),
            encoderHiddenStatesMask: mask, timestep: timesteps,
            imageShapes: Array(repeating: shapes, count: x.dim(0)))
        return (condition == nil ? out : out[.all, 0..<x.dim(1)]).asType(.float32)
    }

    /// `__call__`'s denoising loop from packed `latents` for an image of `height × width`, returning the final packed
    /// latents (`output_type="latent"`). With `trueCFGScale` > 1 and a negative prompt, true CFG: `n + s·(c − n)`
    /// rescaled per token to the conditional prediction's norm over features, as diffusers 0.42.1 does. Negative
    /// embeddings of one row serve every sample, as the pipeline's single negative prompt does (and so do prompt
    /// embeddings of one row). `condition`: Qwen-Image-Edit's condition image latents (``velocity``).
    public func denoise(
        _ latents: Tensor, promptEmbeds: Tensor, mask: Tensor?, negativePromptEmbeds: Tensor?, negativeMask: Tensor?,
        trueCFGScale: Float, steps: Int, height: Int, width: Int, condition: QwenImageConditionLatents? = nil,
        progress: (Int, Int) -> Void = { _, _ in }
    ) -> Tensor {
        let batch = latents.dim(0)
        precondition(
            latents.shape == [batch] + latentShape(height: height, width: width),
            "QwenImagePipeline: expected packed latents \([batch] + latentShape(height: height, width: width)) for "
                + "\(height)×\(width), got \(latents.shape)")
        var schedule = schedule(steps: steps, height: height, width: width)
        var x = latents.asType(.float32)
        let positive = (embeds: Self.rows(promptEmbeds, batch), mask: mask.map { Self.rows($0, batch) })
        var negative: (embeds: Tensor, mask: Tensor?)?
        if trueCFGScale > 1, let embeds = negativePromptEmbeds {
            negative = (Self.rows(embeds, batch), negativeMask.map { Self.rows($0, batch) })
        }
        for i in 0..<steps {
            // diffusers passes `t / 1000` computed in the latents' float32.
            let t = Tensor.full([batch], Double(schedule.timesteps[i] / 1000))
            var v = velocity(
                x, timesteps: t, promptEmbeds: positive.embeds, mask: positive.mask, height: height, width: width,
                condition: condition)
            if let negative {
                let n = velocity(
                    x, timesteps: t, promptEmbeds: negative.embeds, mask: negative.mask, height: height, width: width,
                    condition: condition)
                let combined = n + trueCFGScale * (v - n)
                v = combined * (Self.norm(v) / Self.norm(combined))
            }
            x = schedule.step(i, modelOutput: v, sample: x)
            eval(x)
            progress(i + 1, steps)
        }
        return x
    }

    /// Final packed latents of `height × width` images → images `[B, H, W, 3]` in [0, 1]: unpacked, `latents / (1 /
    /// std) + mean`, decoded, frame 0, [−1, 1] → [0, 1].
    public func decode(_ latents: Tensor, height: Int, width: Int) -> Tensor {
        let grid = latentGrid(height: height, width: width)
        let unpacked = QwenImageLatents.unpack(latents.asType(.float32), height: grid.height, width: grid.width)
        let raw = vae.denormalize(unpacked)
        let images = vae.decode(raw.asType(vae.quantConv.weight.dtype)).asType(.float32)
        let first = images[.all, .all, 0]
        return ((first + 1) * 0.5).clipped(min: 0, max: 1).transposed([0, 2, 3, 1])
    }

    /// The whole text-to-image call: prompts (and one negative prompt) encoded, denoised from packed `latents`,
    /// decoded. Returns the final latents and the images.
    public func callAsFunction(
        prompts: [String], negativePrompt: String?, latents: Tensor, trueCFGScale: Float = defaultTrueCFGScale,
        steps: Int = defaultSteps, height: Int = defaultSize, width: Int = defaultSize,
        maxSequenceLength: Int = defaultMaxSequenceLength, progress: (Int, Int) -> Void = { _, _ in }
    ) -> (latents: Tensor, images: Tensor) {
        let positive = encodePrompt(prompts, maxSequenceLength: maxSequenceLength)
        let negative =
            trueCFGScale > 1 ? negativePrompt.map { encodePrompt([$0], maxSequenceLength: maxSequenceLength) } : nil
        let final = denoise(
            latents, promptEmbeds: positive.promptEmbeds, mask: positive.mask,
            negativePromptEmbeds: negative?.promptEmbeds, negativeMask: negative?.mask, trueCFGScale: trueCFGScale,
            steps: steps, height: height, width: width, progress: progress)
        return (final, decode(final, height: height, width: width))
    }

    /// `torch.norm(x, dim=-1, keepdim=True)`.
    static func norm(_ x: Tensor) -> Tensor { x.square().sum(axis: -1, keepDims: true).sqrt() }

    /// A one-row tensor repeated to `batch` rows (others as they are).
    static func rows(_ x: Tensor, _ batch: Int) -> Tensor {
        x.dim(0) == batch ? x : concatenated(Array(repeating: x, count: batch), axis: 0)
    }
}
