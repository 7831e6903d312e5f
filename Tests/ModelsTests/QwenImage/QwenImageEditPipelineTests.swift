import Checkpoints
import Engine
import Foundation
@testable import Models
import TestSupport
import XCTest

/// The Qwen-Image-Edit pipeline against diffusers' `QwenImageEditPipeline` on the miniature Edit folder
/// (tools/goldens/qwen_image_edit_mini.py): a 40×24 condition image resized (PIL Lanczos) to the target area's
/// 96×64 and again (torch bicubic) to 16×24 for the one-block vision tower, the Edit template with 24 merged vision
/// tokens at 3-axis rotary positions, the condition's VAE latents joined after the noise, 3 steps of true CFG 4
/// against a negative prompt, 2 images of one prompt at 32×32 px from the same packed latents.
final class QwenImageEditPipelineTests: XCTestCase {
    static let prompt = "Turn the sky purple \u{7d2b}\u{8272} and add 3 stars \u{2b50}"
    static let negative = "blurry, low quality"
    /// The golden's `target_area` (diffusers fixes 1024²; see the generator).
    static let targetArea = 64 * 64

    static func bytes(_ tensor: Tensor) -> [UInt8] { tensor.asType(.int32).toArray(Int32.self).map { UInt8($0) } }

    static func condition(_ golden: [String: Tensor]) -> (rgb: [UInt8], height: Int, width: Int) {
        let image = golden["condition_image"]!
        return (bytes(image), image.dim(0), image.dim(1))
    }

    /// `calculate_dimensions` as diffusers computes it, and the resizes as PIL and torch do them, to the byte.
    func testConditionImageIsResizedAsDiffusers() throws {
        for (w, h, expected) in [
            (40, 24, (1312, 800)), (1, 1, (1024, 1024)), (3, 4, (896, 1184)), (1920, 1080, (1376, 768)),
            (500, 333, (1248, 832))
        ] {
            let size = QwenImageEditPipeline.calculateDimensions(
                targetArea: QwenImageEditPipeline.defaultTargetArea, ratio: Double(w) / Double(h))
            XCTAssertEqual([size.width, size.height], [expected.0, expected.1], "\(w)×\(h)")
        }
        let golden = try SafeTensors.load(Fixture.url("qwen_image_edit_mini_pipeline.safetensors"))
        let pipeline = try QwenImageEditPipeline.load(from: Fixture.url("qwen_image_edit_mini"))
        let source = Self.condition(golden)
        let prepared = try pipeline.prepareCondition(
            rgb: source.rgb, height: source.height, width: source.width, targetArea: Self.targetArea)
        XCTAssertEqual([prepared.height, prepared.width], [64, 96])
        let lanczos = Self.bytes(golden["condition_resized"]!)
        XCTAssertEqual(prepared.rgb.count, lanczos.count)
        let lanczosError = zip(prepared.rgb, lanczos).map { abs(Int($0) - Int($1)) }.max() ?? 255
        XCTAssertEqual(lanczosError, 0, "PIL Lanczos bytes")
        let shrunk = PILLanczosUInt8.resize(
            prepared.rgb, height: 64, width: 96, channels: 3, newHeight: 23, newWidth: 37)
        XCTAssertEqual(shrunk, Self.bytes(golden["lanczos_down"]!), "PIL Lanczos bytes when shrinking")
        let vision = try pipeline.promptEncoding.imageProcessor.resize(rgb: prepared.rgb, height: 64, width: 96)
        XCTAssertEqual([vision.height, vision.width], [16, 24])
        XCTAssertEqual(vision.rgb, Self.bytes(golden["vision_image"]!), "the processor's torch bicubic bytes")
        let latentError = maxAbsDifference(prepared.latents.latents, golden["image_latents"]!)
        let scale = golden["image_latents"]!.abs().max().item(Float.self)
        XCTAssertLessThanOrEqual(latentError, 1e-4 * scale, "condition latents (scale \(scale))")
        XCTAssertEqual(prepared.latents.shape.height, 4)
        XCTAssertEqual(prepared.latents.shape.width, 6)
        print("Qwen-Image-Edit condition: Lanczos max byte error \(lanczosError), latents \(latentError)")
    }

    /// The processor's ids (template, expanded image tokens), `get_rope_index`'s positions and the prompt embeddings
    /// of the prompt and the negative prompt with the image.
    func testPromptEncodingWithTheImageMatchesTransformers() throws {
        let golden = try SafeTensors.load(Fixture.url("qwen_image_edit_mini_pipeline.safetensors"))
        let pipeline = try QwenImageEditPipeline.load(from: Fixture.url("qwen_image_edit_mini"))
        let encoding = pipeline.promptEncoding
        let source = Self.condition(golden)
        let prepared = try pipeline.prepareCondition(
            rgb: source.rgb, height: source.height, width: source.width, targetArea: Self.targetArea)
        let batch = encoding.tokenize([Self.prompt], imageTokenCount: 24)
        XCTAssertEqual(batch.ids[0].map(Int32.init), golden["input_ids"]!.toArray(Int32.self), "processor ids")
        let positions = Qwen2_5_VLRopeIndex.positionIDs(
            ids: batch.ids, attentionMask: batch.attentionMask, imageTokenID: encoding.imageTokenID,
            grids: [(1, 8, 12)], spatialMergeSize: 2)
        XCTAssertEqual(positions.toArray(Int32.self), golden["position_ids"]!.toArray(Int32.self), "rope index")
        let resized = (prepared.rgb, prepared.height, prepared.width)
        var errors: [Float] = []
        for (prompt, key) in [(Self.prompt, "prompt_embeds"), (Self.negative, "negative_prompt_embeds")] {
            let (embeds, mask) = try pipeline.encodePrompt([prompt], condition: resized)
            let expected = golden[key]!
            XCTAssertEqual(embeds.shape, expected.shape, key)
            XCTAssertNil(mask, "one full row: no mask, as diffusers")
            let error = maxAbsDifference(embeds, expected)
            XCTAssertLessThanOrEqual(error, 1e-4 * expected.abs().max().item(Float.self), key)
            errors.append(error)
        }
        print("Qwen-Image-Edit prompt embeds max abs error: prompt \(errors[0]), negative \(errors[1])")
    }

    /// Two prompts of different lengths in one batch: padded on the right, each row at its own positions, then cut
    /// and padded to the longest after the prefix with a mask — each row is its prompt's encoding alone.
    func testBatchOfPromptsIsEachPromptAlone() throws {
        let golden = try SafeTensors.load(Fixture.url("qwen_image_edit_mini_pipeline.safetensors"))
        let pipeline = try QwenImageEditPipeline.load(from: Fixture.url("qwen_image_edit_mini"))
        let source = Self.condition(golden)
        let prepared = try pipeline.prepareCondition(
            rgb: source.rgb, height: source.height, width: source.width, targetArea: Self.targetArea)
        let (embeds, mask) = try pipeline.encodePrompt(
            [Self.prompt, Self.negative], condition: (prepared.rgb, prepared.height, prepared.width))
        let (long, short) = (golden["prompt_embeds"]!, golden["negative_prompt_embeds"]!)
        XCTAssertEqual(embeds.shape, [2, long.dim(1), long.dim(2)])
        let rows = try XCTUnwrap(mask, "rows of different lengths need the mask").toArray(Int32.self)
        XCTAssertEqual(rows.reduce(0, +), Int32(long.dim(1) + short.dim(1)))
        let kept = short.dim(1)
        let longError = maxAbsDifference(embeds[0..<1], long)
        let shortError = maxAbsDifference(embeds[1..<2, 0..<kept], short)
        let padding = embeds[1..<2, kept...].abs().max().item(Float.self)
        XCTAssertLessThanOrEqual(longError, 1e-4 * long.abs().max().item(Float.self))
        XCTAssertLessThanOrEqual(shortError, 1e-4 * short.abs().max().item(Float.self))
        XCTAssertEqual(padding, 0)
        print("Qwen-Image-Edit batch of 2 prompts: max abs error \(longError), \(shortError)")
    }

    func testPipelineMatchesDiffusers() throws {
        let golden = try SafeTensors.load(Fixture.url("qwen_image_edit_mini_pipeline.safetensors"))
        let pipeline = try QwenImageEditPipeline.load(from: Fixture.url("qwen_image_edit_mini"))
        let source = Self.condition(golden)
        let (final, images) = try pipeline(
            prompts: [Self.prompt], negativePrompt: Self.negative, image: source.rgb, imageHeight: source.height,
            imageWidth: source.width, latents: golden["latents"]!, trueCFGScale: 4, steps: 3, height: 32, width: 32,
            targetArea: Self.targetArea)
        let expected = golden["final_latents"]!
        let latentError = maxAbsDifference(final, expected)
        XCTAssertLessThanOrEqual(latentError, 1e-4 * expected.abs().max().item(Float.self))
        XCTAssertEqual(images.shape, [2, 32, 32, 3])
        let imageError = maxAbsDifference(images, golden["images"]!)
        XCTAssertLessThanOrEqual(imageError, 1e-4)
        print("Qwen-Image-Edit pipeline parity: final latents \(latentError), images \(imageError)")
    }

    func testBadConditionImagesAndMissingProcessorAreNamed() throws {
        let pipeline = try QwenImageEditPipeline.load(from: Fixture.url("qwen_image_edit_mini"))
        XCTAssertThrowsError(try pipeline.prepareCondition(rgb: [], height: 0, width: 4)) {
            XCTAssertEqual($0 as? QwenImageEditError, .conditionImage("an image of 0 × 4 pixels"))
        }
        XCTAssertThrowsError(try pipeline.prepareCondition(rgb: [1, 2, 3], height: 2, width: 2)) {
            XCTAssert("\($0)".contains("3 values for 2 × 2 RGB pixels"), "\($0)")
        }
        let folder = try temporaryDirectory(self)
        let source = Fixture.url("qwen_image_edit_mini")
        for part in ["transformer", "vae", "tokenizer", "text_encoder", "scheduler"] {
            try FileManager.default.copyItem(
                at: source.appendingPathComponent(part), to: folder.appendingPathComponent(part))
        }
        XCTAssertThrowsError(try QwenImageEditPipeline.load(from: folder)) {
            XCTAssert("\($0)".contains("missing processor/preprocessor_config.json"), "\($0)")
        }
    }

    /// transformers 5 saves the processor as `processor_config.json` with the image processor's settings nested
    /// (tools/goldens/qwen_image_edit_processor_v5.py): the same processor, and the same prompt encoding, as from
    /// transformers 4's `preprocessor_config.json`.
    func testTransformers5ProcessorLayoutReadsTheSame() throws {
        let flat = try Qwen2VLImageProcessor.load(Fixture.url("qwen_image_edit_mini/processor"))
        let nested = try Qwen2VLImageProcessor.load(Fixture.url("qwen_image_edit_processor_v5"))
        XCTAssertEqual(nested, flat)
        XCTAssertEqual(nested.maxPixels, 384, "size.longest_edge under image_processor")

        let folder = try temporaryDirectory(self)
        let source = Fixture.url("qwen_image_edit_mini")
        for part in ["transformer", "vae", "tokenizer", "text_encoder", "scheduler"] {
            try FileManager.default.copyItem(
                at: source.appendingPathComponent(part), to: folder.appendingPathComponent(part))
        }
        try FileManager.default.copyItem(
            at: Fixture.url("qwen_image_edit_processor_v5"), to: folder.appendingPathComponent("processor"))
        let golden = try SafeTensors.load(Fixture.url("qwen_image_edit_mini_pipeline.safetensors"))
        let pipeline = try QwenImageEditPipeline.load(from: folder)
        let source8 = Self.condition(golden)
        let prepared = try pipeline.prepareCondition(
            rgb: source8.rgb, height: source8.height, width: source8.width, targetArea: Self.targetArea)
        let (embeds, _) = try pipeline.encodePrompt(
            [Self.prompt], condition: (prepared.rgb, prepared.height, prepared.width))
        let expected = golden["prompt_embeds"]!
        XCTAssertLessThanOrEqual(maxAbsDifference(embeds, expected), 1e-4 * expected.abs().max().item(Float.self))

        let broken = folder.appendingPathComponent("processor/processor_config.json")
        try Data(#"{"processor_class": "Qwen2VLProcessor"}"#.utf8).write(to: broken)
        XCTAssertThrowsError(try QwenImageEditPipeline.load(from: folder)) {
            XCTAssert("\($0)".contains("image_processor"), "\($0)")
        }
    }
}
