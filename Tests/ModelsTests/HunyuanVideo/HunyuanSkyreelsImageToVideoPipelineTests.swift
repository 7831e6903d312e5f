import Checkpoints
import Engine
import Foundation
import Models
import Sampling
import TestSupport
import XCTest

/// SkyReels-V1 image-to-video against diffusers' `HunyuanSkyreelsImageToVideoPipeline` on the miniature folder
/// (tools/goldens/skyreels_i2v_mini.py): a 36 × 44 condition image through `VideoProcessor.preprocess` to 32 × 32,
/// its VAE posterior sampled with the reference's ε and scaled, padded with zero latent frames; 3 Euler steps of 5
/// frames with the image latents concatenated on the channel axis, embedded guidance 1, true CFG 6 against a negative
/// prompt; the decoded video; and the same without true CFG.
final class HunyuanSkyreelsImageToVideoPipelineTests: XCTestCase {
    private let prompts = ["A cat walks on the grass, realistic style.", "two blue cubes on a table"]

    private func relative(_ actual: Tensor, _ expected: Tensor) -> (error: Float, scale: Float) {
        XCTAssertEqual(actual.shape, expected.shape)
        return (maxAbsDifference(actual, expected), expected.abs().max().item(Float.self))
    }

    func testImageToVideoMatchesDiffusers() throws {
        let golden = try SafeTensors.load(Fixture.url("skyreels_i2v_mini_pipeline.safetensors"))
        let pipeline = try HunyuanSkyreelsImageToVideoPipeline.load(from: Fixture.url("skyreels_i2v_mini"))
        let image = golden["image"]!
        XCTAssertEqual(image.shape, [36, 44, 3])
        let pixels = pipeline.preprocess(
            rgb: image.toArray(UInt8.self), height: 36, width: 44, targetHeight: 32, targetWidth: 32)
        let pixelError = maxAbsDifference(pixels, golden["pixels"]!)
        XCTAssertEqual(pixels.shape, [1, 3, 32, 32])
        XCTAssertLessThanOrEqual(pixelError, 1e-6, "PIL's Lanczos to the bit, then x/255·2−1")

        let batch = concatenated([pixels, pixels], axis: 0)
        let imageLatents = pipeline.imageLatents(pixels: batch, frames: 5, noise: golden["image_noise"]!)
        let condition = relative(imageLatents, golden["image_latents"]!)
        XCTAssertLessThanOrEqual(condition.error, 1e-4 * condition.scale)
        let mode = pipeline.imageLatents(pixels: batch, frames: 5, noise: nil)
        XCTAssertGreaterThan(maxAbsDifference(mode, imageLatents), 1e-2, "the posterior is sampled, not its mean")

        let initial = golden["latents"]!
        XCTAssertEqual(initial.shape, [2] + pipeline.latentShape(frames: 5, height: 32, width: 32))
        let conditioning = pipeline.encode(prompts, maxSequenceLength: 32)
        let negative = pipeline.encode(Array(repeating: "blurry, low quality", count: 2), maxSequenceLength: 32)
        let final = pipeline.denoise(
            initial, imageLatents: imageLatents, conditioning: conditioning, negative: negative, guidance: 1,
            trueCFGScale: 6, steps: 3)
        let latents = relative(final, golden["final_latents"]!)
        XCTAssertLessThanOrEqual(latents.error, 1e-4 * latents.scale)
        let video = pipeline.decode(final)
        XCTAssertEqual(video.shape, [2, 5, 32, 32, 3])
        let videoError = maxAbsDifference(video, golden["video"]!)
        XCTAssertLessThanOrEqual(videoError, 1e-4)

        let plain = pipeline.denoise(
            initial, imageLatents: imageLatents, conditioning: conditioning, negative: nil, guidance: 1, steps: 3)
        let noCFG = relative(plain, golden["final_latents_no_cfg"]!)
        XCTAssertLessThanOrEqual(noCFG.error, 1e-4 * noCFG.scale)
        print(
            """
            SkyReels-I2V pipeline parity: pixels \(pixelError), image latents \(condition), final latents \(latents), \
            video \(videoError), without true CFG \(noCFG)
            """)
    }

    /// A text-to-video transformer (input channels = the VAE's) is refused with both counts named.
    func testTextToVideoTransformerIsRefused() throws {
        XCTAssertThrowsError(
            try HunyuanSkyreelsImageToVideoPipeline.load(
                from: Fixture.url("skyreels_i2v_mini"),
                transformerFolder: Fixture.url("hunyuan_video_mini").appendingPathComponent("transformer"))
        ) { error in
            XCTAssert("\(error)".contains("takes 4 and returns 4 channels, expected 8"), "\(error)")
        }
    }
}
