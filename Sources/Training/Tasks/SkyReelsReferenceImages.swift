import Engine
import Foundation
import Imaging
import Models

/// Where SkyReels-I2V training gets each prompt's first frame: FLUX from the prompt, as DanceGRPO's reference-image
/// step (`pipe_flux(caption, height=h, width=w, guidance_scale=3.5, num_inference_steps=30,
/// max_sequence_length=512)`, from fresh noise every training step), or a dataset's image per cached prompt.
/// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/train_grpo_skyreels_i2v.py#L264-L283
public enum SkyReelsReferenceImages {
    /// A diffusers FLUX folder's pipeline with its text encoders.
    case flux(FluxPipeline)
    /// A folder of `<i>.png` or `<i>.jpg`, i the prompt's position in the cache's manifest.
    case folder(URL)

    /// The seed's FLUX settings.
    public static let fluxSteps = 30
    public static let fluxGuidance: Float = 3.5
    public static let fluxMaxSequenceLength = 512

    public var summary: String {
        switch self {
        case .flux: return "FLUX (\(Self.fluxSteps) steps, guidance \(Self.fluxGuidance))"
        case .folder(let url): return url.path
        }
    }

    /// The first frame of the prompt `text` (manifest position `index`) at `height × width` for FLUX (noise from
    /// `key`), or the dataset's image at its own size (the pipeline's preprocessing resizes it).
    public func image(for text: String, index: Int, height: Int, width: Int, key: RandomKey) throws -> RGBImage {
        switch self {
        case .flux(let pipeline):
            guard let encoders = pipeline.textEncoders else {
                throw TrainingDataError.embeddingCache(
                    file: "FLUX", reason: "the reference FLUX pipeline was loaded without its text encoders")
            }
            let embeddings = encoders.encode([text], maxSequenceLength: Self.fluxMaxSequenceLength)
            let noise = pipeline.initialNoise(count: 1, height: height, width: width, key: key)
            let latents = pipeline.denoise(
                noise, embeddings: embeddings, height: height, width: width, steps: Self.fluxSteps,
                guidance: Self.fluxGuidance)
            let pixels = pipeline.decode(latents, height: height, width: width)
            return try RGBImage(hwc: pixels.toArray(Float.self), shape: pixels.shape, range: .zeroToOne)
        case .folder(let folder):
            for ext in ["png", "jpg", "jpeg"] {
                let url = folder.appendingPathComponent("\(index).\(ext)")
                guard FileManager.default.fileExists(atPath: url.path) else { continue }
                return ext == "png"
                    ? try PNGDecoder.decode(contentsOf: url).rgbImage() : try JPEGDecoder.decode(contentsOf: url)
            }
            throw TrainingDataError.embeddingCache(
                file: folder.path, reason: "no first frame \(index).png or \(index).jpg for the prompt '\(text)'")
        }
    }
}
