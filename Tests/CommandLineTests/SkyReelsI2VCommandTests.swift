import Checkpoints
import Engine
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

    /// The cache is the seed's layout of diffusers' `encode_prompt` (the HunyuanVideo golden's states, mask and pooled
    /// vectors for the same prompts at 32 tokens): `[1 + L, D]` with the pooled vector zero-padded in row 0, the mask
    /// `[L]`; the empty prompt's cache in `empty/`.
    func testPreprocessWritesTheSeedLayout() throws {
        let root = try RunFolderFiles.temporaryRoot("skyreels-i2v-preprocess")
        defer { try? FileManager.default.removeItem(at: root) }
        let promptFile = root.appendingPathComponent("prompts.txt")
        try (prompts.joined(separator: "\n") + "\n").write(to: promptFile, atomically: true, encoding: .utf8)
        let cache = root.appendingPathComponent("cache")
        let result = try DancegrpoExecutable.run([
            "preprocess", "--model", "skyreels-i2v", "--checkpoint", folder, "--prompts", promptFile.path,
            "--max-sequence-length", "32", "--dtype", "float32", "--out", cache.path
        ])
        XCTAssertEqual(result.status, 0, result.output)
        let reference = DancegrpoExecutable.packageRoot.appendingPathComponent(
            "Tests/TestSupport/Fixtures/hunyuan_video_mini_pipeline.safetensors")
        let states = try RunFolderFiles.float32Tensor(reference, key: "prompt_embeds")
        let masks = try RunFolderFiles.float32Tensor(reference, key: "prompt_attention_mask")
        let pooled = try RunFolderFiles.float32Tensor(reference, key: "pooled_prompt_embeds")
        let (length, width, pooledWidth) = (32, 32, 16)
        var worst: Float = 0
        for row in 0..<2 {
            let packed = try RunFolderFiles.float32Tensor(
                cache.appendingPathComponent("prompt_embed/\(row).safetensors"), key: "prompt_embed")
            // int64, as the seed saves the tokenizer's mask.
            let maskFile = cache.appendingPathComponent("prompt_attention_mask/\(row).safetensors")
            let mask = try XCTUnwrap(try SafeTensorsFile(url: maskFile).tensors()["prompt_attention_mask"])
                .asType(.float32).toArray(Float.self)
            XCTAssertEqual(packed.count, (1 + length) * width)
            XCTAssertEqual(mask, Array(masks[(row * length)..<((row + 1) * length)]))
            let expectedFirst =
                Array(pooled[(row * pooledWidth)..<((row + 1) * pooledWidth)])
                + Array(repeating: 0, count: width - pooledWidth)
            let expected = expectedFirst + Array(states[(row * length * width)..<((row + 1) * length * width)])
            worst = max(worst, zip(packed, expected).map { abs($0 - $1) }.max() ?? .infinity)
        }
        let scale = (states + pooled).map(abs).max() ?? 1
        XCTAssertLessThanOrEqual(worst, 1e-4 * scale, "max abs error of the cached states")
        print("skyreels-i2v preprocess: cached states max abs error \(worst) at scale \(scale)")
        let manifest = try String(contentsOf: cache.appendingPathComponent("videos2caption.json"), encoding: .utf8)
        XCTAssert(manifest.contains("prompt_attention_mask") && manifest.contains(prompts[1]), manifest)
        let empty = cache.appendingPathComponent("empty")
        XCTAssert(
            FileManager.default.fileExists(atPath: empty.appendingPathComponent("prompt_embed/0.safetensors").path))
        XCTAssert(FileManager.default.fileExists(atPath: empty.appendingPathComponent("videos2caption.json").path))
    }

    /// The preset is finetune_skyreels_i2v.sh (53 frames of 640 × 400, 16 steps at shift 7, CFG 5, 8 generations),
    /// and the script as a config file resolves to the same settings (its VideoAlign reward overridden here).
    func testPresetAndSeedConfig() throws {
        let preset = try DancegrpoExecutable.run([
            "train", "--model", "skyreels-i2v", "--checkpoint", folder, "--embeddings", "x", "--dry-run"
        ])
        XCTAssertEqual(preset.status, 0, preset.output)
        for expected in [
            "guidanceScale               5", "shift                       7", "samplingSteps               16",
            "numGenerations              8", "iterations                  121", "numFrames                   53",
            "height                      400", "width                       640",
            "rewards                     videoalign-mq"
        ] {
            XCTAssert(preset.output.contains(expected), "\(expected)\n\(preset.output)")
        }
        let seed = try DancegrpoExecutable.run([
            "train", "--config", "configs/seed-skyreels-i2v.json", "--reward", "jpeg-compressibility", "--dry-run"
        ])
        XCTAssertEqual(seed.status, 0, seed.output)
        for expected in [
            "numFrames                   53    (/", "referenceCheckpoint         data/flux",
            "shift                       7    (/"
        ] {
            XCTAssert(seed.output.contains(expected), "\(expected)\n\(seed.output)")
        }
    }

    /// Two GRPO iterations from the command line on the miniature folder: the cache from `preprocess`, FLUX first
    /// frames, CFG 5 against the cached empty prompt; finite rewards and a checkpoint.
    func testTwoIterationsOfGRPO() throws {
        let root = try RunFolderFiles.temporaryRoot("skyreels-i2v-train")
        defer { try? FileManager.default.removeItem(at: root) }
        let promptFile = root.appendingPathComponent("prompts.txt")
        try (prompts.joined(separator: "\n") + "\n").write(to: promptFile, atomically: true, encoding: .utf8)
        let cache = root.appendingPathComponent("cache")
        let preprocess = try DancegrpoExecutable.run([
            "preprocess", "--model", "skyreels-i2v", "--checkpoint", folder, "--prompts", promptFile.path,
            "--max-sequence-length", "8", "--dtype", "float32", "--out", cache.path
        ])
        XCTAssertEqual(preprocess.status, 0, preprocess.output)
        let run = root.appendingPathComponent("run")
        let result = try DancegrpoExecutable.run([
            "train", "--model", "skyreels-i2v", "--checkpoint", folder, "--embeddings", cache.path,
            "--reference-checkpoint", "Tests/TestSupport/Fixtures/flux_mini", "--height", "32", "--width", "32",
            "--num-frames", "5", "--processes", "1", "--prompts-per-iteration", "1", "--num-generations", "2",
            "--sampling-steps", "4", "--gradient-accumulation-steps", "2", "--reward", "jpeg-compressibility",
            "--eval-prompts", "1", "--eval-every", "2", "--checkpoint-every", "2", "--iterations", "2",
            "--output-dir", run.path
        ])
        XCTAssertEqual(result.status, 0, result.output)
        let rewards = try String(contentsOf: run.appendingPathComponent("reward.txt"), encoding: .utf8)
            .split(separator: "\n").compactMap { Double($0) }
        XCTAssertEqual(rewards.count, 2)
        XCTAssert(rewards.allSatisfy(\.isFinite), "\(rewards)")
        let files = try FileManager.default.contentsOfDirectory(atPath: run.path)
        XCTAssert(files.contains { $0.hasPrefix("checkpoint-2") }, "\(files)")
    }
}
