import Checkpoints
import Engine
import Foundation
import Sampling

/// What is wrong with a condition image given to ``QwenImageEditPipeline``.
public enum QwenImageEditError: Error, CustomStringConvertible, Equatable {
    case conditionImage(String)

    public var description: String {
        switch self {
        case .conditionImage(let reason): return "Qwen-Image-Edit condition image: \(reason)"
        }
    }
}

/// diffusers' `QwenImageEditPipeline` on a diffusers Qwen-Image-Edit folder (`Qwen/Qwen-Image-Edit`): Qwen-Image's
/// parts (``QwenImagePipeline``: transformer, VAE, scheduler, the text encoding and the denoising loop with true CFG)
/// with the condition image: resized with PIL's Lanczos to the area `targetArea` (diffusers' 1024²) at its aspect
/// ratio in multiples of 32 (``calculateDimensions(targetArea:ratio:)``); seen by the vision tower inside the Edit
/// prompt template (``QwenImageEditTextEncoding``); and encoded by the VAE (the posterior's mean, normalised,
/// packed), its tokens joined after the noise latents with both grids in `img_shapes`. Latents are packed as for
/// text to image, the layout `__call__` takes as `latents` and returns with `output_type="latent"`.
/// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/pipelines/qwenimage/pipeline_qwenimage_edit.py
public final class QwenImageEditPipeline {
    public let base: QwenImagePipeline
    public let promptEncoding: QwenImageEditTextEncoding

    /// `calculate_dimensions(1024 * 1024, …)` in `__call__`.
    public static let defaultTargetArea = 1024 * 1024
    public static let defaultSteps = 50
    public static let defaultTrueCFGScale: Float = 4

    public init(base: QwenImagePipeline, promptEncoding: QwenImageEditTextEncoding) {
        self.base = base
        self.promptEncoding = promptEncoding
    }

    /// Loads a diffusers Qwen-Image-Edit folder: Qwen-Image's parts
    /// (``QwenImagePipeline/load(from:dtype:transformerFolder:)``) and `processor/` with the vision tower of
    /// `text_encoder/`.
    public static func load(from folder: URL, dtype: DType? = nil, transformerFolder: URL? = nil) throws
        -> QwenImageEditPipeline
    {
        let base = try QwenImagePipeline.load(from: folder, dtype: dtype, transformerFolder: transformerFolder)
        let encoding = try QwenImageEditTextEncoding.load(from: folder, text: base.textEncoding, dtype: dtype)
        return QwenImageEditPipeline(base: base, promptEncoding: encoding)
    }

    /// diffusers' `calculate_dimensions`: width √(area · ratio) and height width / ratio, each rounded (halves to
    /// even, as Python's `round`) to a multiple of 32. `ratio` is width / height.
    public static func calculateDimensions(targetArea: Int, ratio: Double) -> (width: Int, height: Int) {
        let width = (Double(targetArea) * ratio).squareRoot()
        let height = width / ratio
        return (Int((width / 32).rounded(.toNearestOrEven)) * 32, Int((height / 32).rounded(.toNearestOrEven)) * 32)
    }

    /// The size `__call__` gives the output for a condition image of `conditionHeight × conditionWidth`: the given
    /// size, else the condition's, floored to multiples of 16 (the VAE's 8 × the 2×2 packing).
    public func outputSize(height: Int?, width: Int?, condition: (height: Int, width: Int)) -> (height: Int, width: Int)
    {
        let multiple = base.vaeScaleFactor * 2
        let (h, w) = (height ?? condition.height, width ?? condition.width)
        return (h / multiple * multiple, w / multiple * multiple)
    }

    /// The condition image, 8-bit RGB row-major `[height, width, 3]`, as the pipeline prepares it: resized (PIL
    /// Lanczos) to ``calculateDimensions(targetArea:ratio:)``, then its VAE latents. Throws
    /// ``QwenImageEditError/conditionImage(_:)`` for an empty or inconsistent image.
    public func prepareCondition(rgb: [UInt8], height: Int, width: Int, targetArea: Int = defaultTargetArea) throws
        -> (rgb: [UInt8], height: Int, width: Int, latents: QwenImageConditionLatents)
    {
        guard height > 0, width > 0 else {
            throw QwenImageEditError.conditionImage("an image of \(height) × \(width) pixels")
        }
        guard rgb.count == height * width * 3 else {
            throw QwenImageEditError.conditionImage(
                "\(rgb.count) values for \(height) × \(width) RGB pixels (expected \(height * width * 3))")
        }
        let size = Self.calculateDimensions(targetArea: targetArea, ratio: Double(width) / Double(height))
        guard size.width > 0, size.height > 0 else {
            throw QwenImageEditError.conditionImage(
                "\(height) × \(width) pixels resize to \(size.height) × \(size.width) at the area \(targetArea)")
        }
        let resized = PILLanczosUInt8.resize(
            rgb, height: height, width: width, channels: 3, newHeight: size.height, newWidth: size.width)
        return (resized, size.height, size.width, encodeCondition(rgb: resized, height: size.height, width: size.width))
    }

    /// `_encode_vae_image` and the packing of `prepare_latents` for an image already at the condition size:
    /// [0, 255] → [−1, 1], the posterior's mean (`sample_mode="argmax"`), `(z − mean) / std`, packed.
    public func encodeCondition(rgb: [UInt8], height: Int, width: Int) -> QwenImageConditionLatents {
        let vae = base.vae
        let pixels = Tensor(rgb.map { Float($0) / 255 * 2 - 1 }, shape: [1, height, width, 3])
        let video = pixels.transposed([0, 3, 1, 2]).expandedDims(axis: 2)
        let mean = vae.encode(video.asType(vae.quantConv.weight.dtype)).mean.asType(.float32)
        let latents = vae.normalize(mean)
        let grid = (height: latents.dim(-2), width: latents.dim(-1))
        return QwenImageConditionLatents(
            latents: QwenImageLatents.pack(latents),
            shape: QwenImageLatents.imageShape(height: grid.height, width: grid.width))
    }

    /// `encode_prompt` with the resized condition image (``prepareCondition(rgb:height:width:targetArea:)``'s).
    public func encodePrompt(_ prompts: [String], condition: (rgb: [UInt8], height: Int, width: Int)) throws -> (
        promptEmbeds: Tensor, mask: Tensor?
    ) {
        try promptEncoding.encodePrompt(prompts, rgb: condition.rgb, height: condition.height, width: condition.width)
    }

    /// The denoising loop of ``QwenImagePipeline/denoise`` with the condition's latents joined to every call.
    public func denoise(
        _ latents: Tensor, promptEmbeds: Tensor, mask: Tensor?, negativePromptEmbeds: Tensor?, negativeMask: Tensor?,
        condition: QwenImageConditionLatents, trueCFGScale: Float, steps: Int, height: Int, width: Int,
        progress: (Int, Int) -> Void = { _, _ in }
    ) -> Tensor {
        base.denoise(
            latents, promptEmbeds: promptEmbeds, mask: mask, negativePromptEmbeds: negativePromptEmbeds,
            negativeMask: negativeMask, trueCFGScale: trueCFGScale, steps: steps, height: height, width: width,
            condition: condition, progress: progress)
    }

    /// The whole edit: the condition image (8-bit RGB `[imageHeight, imageWidth, 3]`) prepared, the prompts (each
    /// row of `latents` takes one prompt's, or every row the one prompt's) and the negative prompt encoded with it,
    /// denoised from packed `latents` of a `height × width` output (nil: the condition's size), decoded. Returns the
    /// final latents and the images `[B, H, W, 3]` in [0, 1].
    public func callAsFunction(
        prompts: [String], negativePrompt: String?, image rgb: [UInt8], imageHeight: Int, imageWidth: Int,
        latents: Tensor, trueCFGScale: Float = defaultTrueCFGScale, steps: Int = defaultSteps, height: Int? = nil,
        width: Int? = nil, targetArea: Int = defaultTargetArea, progress: (Int, Int) -> Void = { _, _ in }
    ) throws -> (latents: Tensor, images: Tensor) {
        let condition = try prepareCondition(rgb: rgb, height: imageHeight, width: imageWidth, targetArea: targetArea)
        let size = outputSize(height: height, width: width, condition: (condition.height, condition.width))
        let resized = (condition.rgb, condition.height, condition.width)
        let positive = try encodePrompt(prompts, condition: resized)
        let negative = trueCFGScale > 1 ? try negativePrompt.map { try encodePrompt([$0], condition: resized) } : nil
        let final = denoise(
            latents, promptEmbeds: positive.promptEmbeds, mask: positive.mask,
            negativePromptEmbeds: negative?.promptEmbeds, negativeMask: negative?.mask, condition: condition.latents,
            trueCFGScale: trueCFGScale, steps: steps, height: size.height, width: size.width, progress: progress)
        return (final, base.decode(final, height: size.height, width: size.width))
    }
}
