import Foundation
import XCTest

/// `sample --model qwen-image` as users run it, on the miniature Qwen-Image folder (tools/goldens/qwen_image_mini.py).
final class QwenImageCommandTests: XCTestCase {
    private let folder = "Tests/TestSupport/Fixtures/qwen_image_mini"

    /// From diffusers' packed initial latents, the command (each prompt encoded and denoised on its own, true CFG 4
    /// against the negative prompt) writes a PNG per prompt, the grid and the final latents diffusers'
    /// `QwenImagePipeline` returned for the two prompts together.
    func testSampleMatchesDiffusersFromTheSameNoise() throws {
        let root = try RunFolderFiles.temporaryRoot("qwen-image-sample")
        defer { try? FileManager.default.removeItem(at: root) }
        let golden = "Tests/TestSupport/Fixtures/qwen_image_mini_pipeline.safetensors"
        let result = try DancegrpoExecutable.run([
            "sample", "--model", "qwen-image", "--checkpoint", folder, "--prompt",
            "A cat walks on the grass, realistic style.", "--prompt",
            "\u{4e00}\u{53ea}\u{732b}\u{5728}\u{96ea}\u{5730}\u{91cc} \u{1f431} 2024", "--negative-prompt",
            "blurry, low quality", "--height", "32", "--width", "32", "--steps", "3", "--guidance", "4",
            "--initial-noise", golden, "--save-latents", "--out", root.path
        ])
        XCTAssertEqual(result.status, 0, result.output)
        let files = try FileManager.default.contentsOfDirectory(atPath: root.path).sorted()
        XCTAssertEqual(files.filter { $0.hasSuffix(".png") && $0 != "grid.png" }.count, 2, "\(files)")
        XCTAssert(files.contains("grid.png"), "\(files)")
        let expected = try RunFolderFiles.float32Tensor(
            DancegrpoExecutable.packageRoot.appendingPathComponent(golden), key: "final_latents")
        let actual = try RunFolderFiles.float32Tensor(
            root.appendingPathComponent("latents.safetensors"), key: "latents")
        XCTAssertEqual(actual.count, expected.count)
        let scale = expected.map(abs).max() ?? 1
        let error = zip(actual, expected).map { abs($0 - $1) }.max() ?? .infinity
        XCTAssertLessThanOrEqual(error, 1e-4 * scale, "max abs error of the final latents")
        print("qwen-image sample: final latents max abs error \(error) (scale \(scale))")
    }

    func testNegativePromptIsRefusedForFlux() throws {
        let result = try DancegrpoExecutable.run([
            "sample", "--model", "flux", "--checkpoint", folder, "--prompt", "x", "--negative-prompt", "y"
        ])
        XCTAssertNotEqual(result.status, 0)
        XCTAssert(result.output.contains("--negative-prompt is for --model wan and qwen-image"), result.output)
    }

    /// Qwen-Image's latents are 8× smaller than the image and packed 2×2: sizes are refused, not rounded as the
    /// diffusers pipeline rounds them with a warning.
    func testSizeNotAMultipleOf16IsRefused() throws {
        let result = try DancegrpoExecutable.run([
            "sample", "--model", "qwen-image", "--checkpoint", folder, "--prompt", "x", "--height", "40"
        ])
        XCTAssertNotEqual(result.status, 0)
        XCTAssert(result.output.contains("a multiple of 16"), result.output)
    }
}
