import Foundation
import XCTest

/// `sample --model hunyuan-video` as users run it, on the miniature HunyuanVideo folder
/// (tools/goldens/hunyuan_video_mini.py).
final class HunyuanVideoCommandTests: XCTestCase {
    private let folder = "Tests/TestSupport/Fixtures/hunyuan_video_mini"
    private let golden = "Tests/TestSupport/Fixtures/hunyuan_video_mini_pipeline.safetensors"
    private let prompts = ["A cat walks on the grass, realistic style.", "two blue cubes on a table"]

    private func finalLatentsError(_ root: URL, key: String) throws -> (error: Float, scale: Float) {
        let expected = try RunFolderFiles.float32Tensor(
            DancegrpoExecutable.packageRoot.appendingPathComponent(golden), key: key)
        let actual = try RunFolderFiles.float32Tensor(
            root.appendingPathComponent("latents.safetensors"), key: "latents")
        XCTAssertEqual(actual.count, expected.count)
        let error = zip(actual, expected).map { abs($0 - $1) }.max() ?? .infinity
        return (error, expected.map(abs).max() ?? 1)
    }

    /// From diffusers' initial latents, the final latents (`--save-latents`, diffusers' layout) are
    /// `HunyuanVideoPipeline`'s with embedded guidance 6 and, with `--true-cfg-scale`, with true CFG against the
    /// negative prompt; one MP4 per prompt.
    func testSampleMatchesDiffusersFromTheSameNoise() throws {
        let root = try RunFolderFiles.temporaryRoot("hunyuan-video-sample")
        defer { try? FileManager.default.removeItem(at: root) }
        let common = [
            "sample", "--model", "hunyuan-video", "--checkpoint", folder, "--prompt", prompts[0], "--prompt",
            prompts[1], "--num-frames", "5", "--height", "32", "--width", "32", "--steps", "3", "--guidance", "6",
            "--max-sequence-length", "32", "--initial-noise", golden, "--save-latents"
        ]
        let plain = root.appendingPathComponent("plain")
        let result = try DancegrpoExecutable.run(common + ["--out", plain.path])
        XCTAssertEqual(result.status, 0, result.output)
        let files = try FileManager.default.contentsOfDirectory(atPath: plain.path).sorted()
        XCTAssertEqual(files.filter { $0.hasSuffix(".mp4") }.count, 2, "\(files)")
        XCTAssert(files.contains("grid.png"), "\(files)")
        let latents = try finalLatentsError(plain, key: "final_latents")
        XCTAssertLessThanOrEqual(latents.error, 1e-4 * latents.scale, "max abs error of the final latents")

        let guided = root.appendingPathComponent("true-cfg")
        let trueCFG = try DancegrpoExecutable.run(
            common + [
                "--negative-prompt", "blurry, low quality", "--true-cfg-scale", "2.5", "--out", guided.path
            ])
        XCTAssertEqual(trueCFG.status, 0, trueCFG.output)
        let guidedLatents = try finalLatentsError(guided, key: "final_latents_true_cfg")
        XCTAssertLessThanOrEqual(guidedLatents.error, 1e-4 * guidedLatents.scale, "true CFG final latents")
    }

    /// One frame is an image: a PNG per prompt, from the seeded noise.
    func testOneFrameWritesAPNG() throws {
        let root = try RunFolderFiles.temporaryRoot("hunyuan-video-image")
        defer { try? FileManager.default.removeItem(at: root) }
        let result = try DancegrpoExecutable.run([
            "sample", "--model", "hunyuan-video", "--checkpoint", folder, "--prompt", prompts[0], "--num-frames", "1",
            "--height", "16", "--width", "16", "--steps", "1", "--max-sequence-length", "8", "--out", root.path
        ])
        XCTAssertEqual(result.status, 0, result.output)
        let files = try FileManager.default.contentsOfDirectory(atPath: root.path)
        XCTAssertEqual(files.filter { $0.hasSuffix(".png") }.count, 1, "\(files)")
        XCTAssert(files.allSatisfy { !$0.hasSuffix(".mp4") }, "\(files)")
    }

    /// Frame counts the VAE cannot compress and flags of other families fail before any work, naming the flag.
    func testBadFlagsAreRefused() throws {
        let base = ["sample", "--model", "hunyuan-video", "--checkpoint", folder, "--prompt", "a cat"]
        let frames = try DancegrpoExecutable.run(base + ["--num-frames", "4"])
        XCTAssertNotEqual(frames.status, 0)
        XCTAssert(frames.output.contains("1 + 4k frames"), frames.output)
        let side = try DancegrpoExecutable.run(base + ["--height", "40"])
        XCTAssertNotEqual(side.status, 0)
        XCTAssert(side.output.contains("a multiple of 16"), side.output)
        let trueCFG = try DancegrpoExecutable.run([
            "sample", "--model", "wan", "--checkpoint", folder, "--prompt", "a cat", "--true-cfg-scale", "2"
        ])
        XCTAssertNotEqual(trueCFG.status, 0)
        XCTAssert(trueCFG.output.contains("--true-cfg-scale is for --model hunyuan-video"), trueCFG.output)
    }
}
