import Foundation
import XCTest

/// `sample --model qwen-image-edit` as users run it, on the miniature Qwen-Image-Edit folder
/// (tools/goldens/qwen_image_edit_mini.py).
final class QwenImageEditCommandTests: XCTestCase {
    private let folder = "Tests/TestSupport/Fixtures/qwen_image_edit_mini"
    private let condition = "Tests/TestSupport/Fixtures/qwen_image_edit_mini_condition.png"
    private let golden = "Tests/TestSupport/Fixtures/qwen_image_edit_mini_pipeline.safetensors"
    private let prompt = "Turn the sky purple \u{7d2b}\u{8272} and add 3 stars \u{2b50}"

    /// From diffusers' packed initial latents (two images of one prompt, so the prompt is given twice and each row
    /// denoised on its own), with the golden's condition area 64², the command writes a PNG per prompt and the final
    /// latents diffusers' `QwenImageEditPipeline` returned.
    func testSampleMatchesDiffusersFromTheSameNoise() throws {
        let root = try RunFolderFiles.temporaryRoot("qwen-image-edit-sample")
        defer { try? FileManager.default.removeItem(at: root) }
        let result = try DancegrpoExecutable.run([
            "sample", "--model", "qwen-image-edit", "--checkpoint", folder, "--image", condition, "--image-area",
            "4096", "--prompt", prompt, "--prompt", prompt, "--negative-prompt", "blurry, low quality", "--height",
            "32", "--width", "32", "--steps", "3", "--guidance", "4", "--initial-noise", golden, "--save-latents",
            "--out", root.path
        ])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssert(result.output.contains("condition image 40×24 → 96×64"), result.output)
        let files = try FileManager.default.contentsOfDirectory(atPath: root.path).sorted()
        XCTAssertEqual(files.filter { $0.hasSuffix(".png") && $0 != "grid.png" }.count, 2, "\(files)")
        let expected = try RunFolderFiles.float32Tensor(
            DancegrpoExecutable.packageRoot.appendingPathComponent(golden), key: "final_latents")
        let actual = try RunFolderFiles.float32Tensor(
            root.appendingPathComponent("latents.safetensors"), key: "latents")
        XCTAssertEqual(actual.count, expected.count)
        let scale = expected.map(abs).max() ?? 1
        let error = zip(actual, expected).map { abs($0 - $1) }.max() ?? .infinity
        XCTAssertLessThanOrEqual(error, 1e-4 * scale, "max abs error of the final latents")
        print("qwen-image-edit sample: final latents max abs error \(error) (scale \(scale))")
    }

    /// A missing or corrupt `--image`, or none, stops the command with the file named.
    func testMissingOrCorruptImageIsNamed() throws {
        let root = try RunFolderFiles.temporaryRoot("qwen-image-edit-bad-image")
        defer { try? FileManager.default.removeItem(at: root) }
        let corrupt = root.appendingPathComponent("corrupt.png")
        try Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3]).write(to: corrupt)
        let missing = root.appendingPathComponent("missing.png").path
        for (image, message) in [
            (missing, "--image \(missing): no such file"), (corrupt.path, "--image \(corrupt.path): not a readable PNG")
        ] {
            let result = try DancegrpoExecutable.run([
                "sample", "--model", "qwen-image-edit", "--checkpoint", folder, "--image", image, "--prompt", "x",
                "--out", root.path
            ])
            XCTAssertNotEqual(result.status, 0)
            XCTAssert(result.output.contains(message), result.output)
        }
        let none = try DancegrpoExecutable.run([
            "sample", "--model", "qwen-image-edit", "--checkpoint", folder, "--prompt", "x", "--out", root.path
        ])
        XCTAssertNotEqual(none.status, 0)
        XCTAssert(none.output.contains("needs --image"), none.output)
    }
}
