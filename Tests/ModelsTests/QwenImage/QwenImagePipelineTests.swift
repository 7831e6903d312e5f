import Checkpoints
import Engine
import Foundation
import Models
import Sampling
import TestSupport
import XCTest

/// The whole Qwen-Image pipeline against diffusers' `QwenImagePipeline` on the miniature folder
/// (tools/goldens/qwen_image_mini.py): the folder's Qwen2.5-VL text encoder and tokenizer, its Euler scheduler with
/// Qwen-Image's dynamic shifting and `shift_terminal`, 3 steps of true CFG 4 against a negative prompt (with the norm
/// rescaling), 2 prompts at 32×32 px from the same packed latents; the schedule, the final latents
/// (`output_type="latent"`) and the decoded images.
final class QwenImagePipelineTests: XCTestCase {
    func testPipelineMatchesDiffusers() throws {
        let golden = try SafeTensors.load(Fixture.url("qwen_image_mini_pipeline.safetensors"))
        let pipeline = try QwenImagePipeline.load(from: Fixture.url("qwen_image_mini"))
        let schedule = pipeline.schedule(steps: 3, height: 32, width: 32)
        let sigmaError = maxAbsDifference(Tensor(schedule.sigmas), golden["sigmas"]!)
        XCTAssertLessThanOrEqual(sigmaError, 1e-6, "sigmas \(schedule.sigmas)")
        let initial = golden["latents"]!
        XCTAssertEqual(initial.shape, [2] + pipeline.latentShape(height: 32, width: 32), "diffusers' packed layout")
        let (final, images) = pipeline(
            prompts: [
                "A cat walks on the grass, realistic style.",
                "\u{4e00}\u{53ea}\u{732b}\u{5728}\u{96ea}"
                    + "\u{5730}\u{91cc} \u{1f431} 2024"
            ], negativePrompt: "blurry, low quality", latents: initial,
            trueCFGScale: 4, steps: 3, height: 32, width: 32)
        let expected = golden["final_latents"]!
        let latentError = maxAbsDifference(final, expected)
        XCTAssertLessThanOrEqual(latentError, 1e-4 * expected.abs().max().item(Float.self))
        XCTAssertEqual(images.shape, [2, 32, 32, 3])
        let imageError = maxAbsDifference(images, golden["images"]!)
        XCTAssertLessThanOrEqual(imageError, 1e-4)
        print("Qwen-Image pipeline parity: sigmas \(sigmaError), final latents \(latentError), images \(imageError)")
    }

    /// Sizes round down to multiples of 16 as `prepare_latents` does, and the drawn noise has the packed layout.
    func testLatentShapesFollowPrepareLatents() throws {
        let pipeline = try QwenImagePipeline.load(from: Fixture.url("qwen_image_mini"))
        XCTAssertEqual(pipeline.vaeScaleFactor, 8)
        XCTAssertEqual(pipeline.latentShape(height: 40, width: 72), [2 * 4, 16])
        let noise = pipeline.initialNoise(count: 3, height: 48, width: 32, key: RandomKey(seed: 1))
        XCTAssertEqual(noise.shape, [3, 3 * 2, 16])
    }

    func testMissingComponentsAreNamed() throws {
        let folder = try temporaryDirectory(self)
        let source = Fixture.url("qwen_image_mini")
        for part in ["transformer", "vae", "tokenizer"] {
            try FileManager.default.copyItem(
                at: source.appendingPathComponent(part), to: folder.appendingPathComponent(part))
        }
        XCTAssertThrowsError(try QwenImagePipeline.load(from: folder)) {
            XCTAssert("\($0)".contains("text_encoder, scheduler"), "\($0)")
        }
    }
}
