import Foundation
import XCTest

/// `sample --model skyreels-i2v` as users run it, on the miniature SkyReels folder (tools/goldens/skyreels_i2v_mini.py)
/// and, for the FLUX first frame, the miniature FLUX folder.
final class SkyReelsI2VCommandTests: XCTestCase {
    private let folder = "Tests/TestSupport/Fixtures/skyreels_i2v_mini"
    private let golden = "Tests/TestSupport/Fixtures/skyreels_i2v_mini_pipeline.safetensors"
    private let image = "Tests/TestSupport/Fixtures/skyreels_i2v_mini_image.png"
    private let prompts = ["A cat walks on the grass, realistic style.", "two blue cubes on a table"]

    /// From diffusers' initial latents and image ε (`--initial-noise`), with the 36×44 PNG as the first frame, the
    /// final latents (`--save-latents`) are `HunyuanSkyreelsImageToVideoPipeline`'s with its defaults (embedded
    /// guidance 1, true CFG 6 against the negative prompt); one MP4 per prompt.
    func testSampleMatchesDiffusersFromTheSameNoise() throws {
        let root = try RunFolderFiles.temporaryRoot("skyreels-i2v-sample")
        defer { try? FileManager.default.removeItem(at: root) }
        let result = try DancegrpoExecutable.run([
            "sample", "--model", "skyreels-i2v", "--checkpoint", folder, "--image", image, "--prompt", prompts[0],
            "--prompt", prompts[1], "--negative-prompt", "blurry, low quality", "--num-frames", "5", "--height", "32",
            "--width", "32", "--steps", "3", "--max-sequence-length", "32", "--initial-noise", golden,
            "--save-latents", "--out", root.path
        ])
        XCTAssertEqual(result.status, 0, result.output)
        let files = try FileManager.default.contentsOfDirectory(atPath: root.path).sorted()
        XCTAssertEqual(files.filter { $0.hasSuffix(".mp4") }.count, 2, "\(files)")
        let expected = try RunFolderFiles.float32Tensor(
            DancegrpoExecutable.packageRoot.appendingPathComponent(golden), key: "final_latents")
        let actual = try RunFolderFiles.float32Tensor(
            root.appendingPathComponent("latents.safetensors"), key: "latents")
        XCTAssertEqual(actual.count, expected.count)
        let error = zip(actual, expected).map { abs($0 - $1) }.max() ?? .infinity
        let scale = expected.map(abs).max() ?? 1
        XCTAssertLessThanOrEqual(error, 1e-4 * scale, "max abs error of the final latents")
        print("skyreels-i2v sample: final latents max abs error \(error) at scale \(scale)")
    }

    /// Without `--image`, FLUX makes each prompt's first frame (saved beside the video); with neither, the error
    /// names both ways.
    func testFluxReferenceFrameAndMissingImage() throws {
        let root = try RunFolderFiles.temporaryRoot("skyreels-i2v-flux")
        defer { try? FileManager.default.removeItem(at: root) }
        let base = [
            "sample", "--model", "skyreels-i2v", "--checkpoint", folder, "--prompt", prompts[0], "--num-frames", "5",
            "--height", "32", "--width", "32", "--steps", "1", "--max-sequence-length", "8"
        ]
        let result = try DancegrpoExecutable.run(
            base + ["--reference-checkpoint", "Tests/TestSupport/Fixtures/flux_mini", "--out", root.path])
        XCTAssertEqual(result.status, 0, result.output)
        let files = try FileManager.default.contentsOfDirectory(atPath: root.path).sorted()
        XCTAssertEqual(files.filter { $0.hasSuffix("-reference.png") }.count, 1, "\(files)")
        XCTAssertEqual(files.filter { $0.hasSuffix(".mp4") }.count, 1, "\(files)")

        let missing = try DancegrpoExecutable.run(base + ["--out", root.appendingPathComponent("none").path])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssert(missing.output.contains("--image IN.png, or --reference-checkpoint FLUX_DIR"), missing.output)
    }
}
