import Checkpoints
import Engine
import Foundation
import Models
import Sampling
import TestSupport
import XCTest

/// The whole HunyuanVideo pipeline against diffusers' `HunyuanVideoPipeline` on the miniature folder
/// (tools/goldens/hunyuan_video_mini.py): the folder's Llama 3 and CLIP text side with the default template, 3 Euler
/// steps of the folder's shifted schedule with embedded guidance 6, 5 frames of 32×32 px, from the same initial
/// latents; the prompt embeds, the final latents (`output_type="latent"`), the decoded video, and the final latents
/// with true CFG against a negative prompt.
final class HunyuanVideoPipelineTests: XCTestCase {
    private let prompts = ["A cat walks on the grass, realistic style.", "two blue cubes on a table"]

    private func relative(_ actual: Tensor, _ expected: Tensor) -> (error: Float, scale: Float) {
        XCTAssertEqual(actual.shape, expected.shape)
        return (maxAbsDifference(actual, expected), expected.abs().max().item(Float.self))
    }

    func testDenoiseAndDecodeMatchDiffusers() throws {
        let golden = try SafeTensors.load(Fixture.url("hunyuan_video_mini_pipeline.safetensors"))
        let pipeline = try HunyuanVideoPipeline.load(from: Fixture.url("hunyuan_video_mini"))
        guard case .flowMatchEuler(let config) = pipeline.scheduler else {
            return XCTFail("HunyuanVideo's folder names FlowMatchEulerDiscreteScheduler")
        }
        XCTAssertEqual(config.shift, 7)
        let conditioning = pipeline.encode(prompts, maxSequenceLength: 32)
        let embeds = relative(conditioning.promptEmbeds, golden["prompt_embeds"]!)
        XCTAssertLessThanOrEqual(embeds.error, 1e-4 * embeds.scale)
        XCTAssertEqual(
            maxAbsDifference(conditioning.attentionMask.asType(.float32), golden["prompt_attention_mask"]!), 0)
        let pooled = relative(conditioning.pooledPromptEmbeds, golden["pooled_prompt_embeds"]!)
        XCTAssertLessThanOrEqual(pooled.error, 1e-4 * pooled.scale)

        let initial = golden["latents"]!
        XCTAssertEqual(
            initial.shape, [2] + pipeline.latentShape(frames: 5, height: 32, width: 32), "diffusers' latent layout")
        let final = pipeline.denoise(initial, conditioning: conditioning, guidance: 6, steps: 3)
        let latents = relative(final, golden["final_latents"]!)
        XCTAssertLessThanOrEqual(latents.error, 1e-4 * latents.scale)
        let video = pipeline.decode(final)
        XCTAssertEqual(video.shape, [2, 5, 32, 32, 3])
        let videoError = maxAbsDifference(video, golden["video"]!)
        XCTAssertLessThanOrEqual(videoError, 1e-4)

        let negative = pipeline.encode(Array(repeating: "blurry, low quality", count: 2), maxSequenceLength: 32)
        let guided = pipeline.denoise(
            initial, conditioning: conditioning, negative: negative, guidance: 6, trueCFGScale: 2.5, steps: 3)
        let trueCFG = relative(guided, golden["final_latents_true_cfg"]!)
        XCTAssertLessThanOrEqual(trueCFG.error, 1e-4 * trueCFG.scale)
        print(
            """
            HunyuanVideo pipeline parity: prompt embeds \(embeds), pooled \(pooled), final latents \(latents), \
            video \(videoError), true CFG \(trueCFG)
            """)
    }

    func testMissingPartsAreNamed() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hunyuan-missing-\(UUID())")
        defer { try? FileManager.default.removeItem(at: folder) }
        for part in ["transformer", "vae", "tokenizer"] {
            try FileManager.default.createDirectory(
                at: folder.appendingPathComponent(part), withIntermediateDirectories: true)
        }
        XCTAssertThrowsError(try HunyuanVideoPipeline.load(from: folder)) { error in
            let message = "\(error)"
            XCTAssert(
                message.contains("missing text_encoder, text_encoder_2, tokenizer_2, scheduler"), message)
        }
    }
}
