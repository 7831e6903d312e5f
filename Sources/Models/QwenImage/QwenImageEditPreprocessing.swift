import Checkpoints
import Engine
import Foundation

/// DanceGRPO's Qwen-Image-Edit preprocessing of one SEED-Data-Edit sample (`calculate_embeds` of
/// `preprocess_qwenimage_edit_embeddings.py`, linked below) on a diffusers Qwen-Image-Edit folder, without its
/// transformer: the source image resized with PIL's Lanczos to `calculate_dimensions(1024², w / h)` (the "calculated"
/// size, multiples of 32), the instruction encoded with that image by `encode_prompt(image=…)` (the Edit template,
/// the vision tower), and the image's VAE latents by `_encode_vae_image` (the posterior's mean, `(z − mean) / std`).
/// This is the preparation ``QwenImageEditPipeline`` does for sampling, so cached and sampled conditions agree.
/// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/data_preprocess/preprocess_qwenimage_edit_embeddings.py
public final class QwenImageEditPreprocessing {
    public let vae: AutoencoderKLQwenImage
    public let promptEncoding: QwenImageEditTextEncoding

    public init(vae: AutoencoderKLQwenImage, promptEncoding: QwenImageEditTextEncoding) {
        self.vae = vae
        self.promptEncoding = promptEncoding
    }

    /// `vae/`, `text_encoder/` (language model and vision tower), `tokenizer/` and `processor/` of a diffusers
    /// Qwen-Image-Edit folder.
    public static func load(from folder: URL, dtype: DType? = nil) throws -> QwenImageEditPreprocessing {
        try ModelFolderError.checkComponents(
            ["vae", "text_encoder", "tokenizer", "processor"], in: folder, model: "Qwen-Image-Edit",
            role: "preprocessing reads")
        let vae = try AutoencoderKLQwenImage.load(from: folder.appendingPathComponent("vae"), dtype: dtype)
        let text = try QwenImageTextEncoding.load(from: folder, dtype: dtype)
        let encoding = try QwenImageEditTextEncoding.load(from: folder, text: text, dtype: dtype)
        return QwenImageEditPreprocessing(vae: vae, promptEncoding: encoding)
    }

    /// One sample: 8-bit RGB `[height, width, 3]` and its instruction → the instruction's states `[L, hidden]`
    /// (float32, every token real: one prompt per call, as the seed's batch of 1), the latents `[1, z_dim, 1, h, w]`
    /// (float32) and the calculated size.
    public func encode(
        rgb: [UInt8], height: Int, width: Int, instruction: String,
        targetArea: Int = QwenImageEditPipeline.defaultTargetArea
    ) throws -> (promptEmbeds: Tensor, imageLatents: Tensor, calculated: (height: Int, width: Int)) {
        guard height > 0, width > 0, rgb.count == height * width * 3 else {
            throw QwenImageEditError.conditionImage("\(rgb.count) values for \(height) × \(width) RGB pixels")
        }
        let size = QwenImageEditPipeline.calculateDimensions(
            targetArea: targetArea, ratio: Double(width) / Double(height))
        guard size.width > 0, size.height > 0 else {
            throw QwenImageEditError.conditionImage(
                "\(height) × \(width) pixels resize to \(size.height) × \(size.width) at the area \(targetArea)")
        }
        let resized = PILLanczosUInt8.resize(
            rgb, height: height, width: width, channels: 3, newHeight: size.height, newWidth: size.width)
        let states = try promptEncoding.encodePrompt(
            [instruction], rgb: resized, height: size.height, width: size.width
        ).promptEmbeds[0]
        let pixels = Tensor(resized.map { Float($0) / 255 * 2 - 1 }, shape: [1, size.height, size.width, 3])
        let video = pixels.transposed([0, 3, 1, 2]).expandedDims(axis: 2)
        let mean = vae.encode(video.asType(vae.quantConv.weight.dtype)).mean.asType(.float32)
        return (states, vae.normalize(mean), (size.height, size.width))
    }
}
