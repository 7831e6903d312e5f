import Checkpoints
import Engine
import Foundation
import Models
import Sampling
import TestSupport
import XCTest

/// The whole Wan pipeline against diffusers' `WanPipeline` on the miniature folder (tools/goldens/wan_mini.py): the
/// folder's UMT5 and tokenizer, 4 UniPC steps with classifier-free guidance 5 against the empty prompt, 5 frames of
/// 32×32 px, from the same initial latents; the final latents (`output_type="latent"`) and the decoded video.
final class WanPipelineTests: XCTestCase {
    func testDenoiseAndDecodeMatchDiffusers() throws {
        let golden = try SafeTensors.load(Fixture.url("wan_mini_pipeline.safetensors"))
        let folder = Fixture.url("wan_mini")
        let pipeline = try WanPipeline.load(from: folder)
        let text = try WanTextEncoder.load(from: folder)
        let (prompt, negative) = text.encode(
            ["a red fox running in the snow", "two blue cubes on a table"], negativePrompt: "", maxSequenceLength: 16)
        let scheduler = try SchedulerConfig.load(folder.appendingPathComponent("scheduler"))
        guard case .uniPC = scheduler else { return XCTFail("Wan's folder names UniPCMultistepScheduler") }
        let initial = golden["latents"]!
        XCTAssertEqual(
            initial.shape, [2] + pipeline.latentShape(frames: 5, height: 32, width: 32), "diffusers' latent layout")
        let final = pipeline.denoise(
            initial, promptEmbeds: prompt, negativePromptEmbeds: negative, guidance: 5, scheduler: scheduler, steps: 4)
        let expected = golden["final_latents"]!
        let latentError = maxAbsDifference(final, expected)
        XCTAssertLessThanOrEqual(latentError, 1e-4 * expected.abs().max().item(Float.self))
        let video = pipeline.decode(final)
        XCTAssertEqual(video.shape, [2, 5, 32, 32, 3])
        let videoError = maxAbsDifference(video, golden["video"]!)
        XCTAssertLessThanOrEqual(videoError, 1e-4)
        print("Wan pipeline parity: final latents \(latentError), video \(videoError)")
    }
}
