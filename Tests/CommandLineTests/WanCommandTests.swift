import Foundation
import XCTest

/// `train --model wan` as users run it: the preset is the seed's Wan script (512 × 512, 20 steps, guidance 5 against
/// the empty prompt), and a few iterations of video GRPO on the miniature Wan folder and the seed-layout cache train
/// with finite rewards and write a checkpoint in diffusers layout.
final class WanCommandTests: XCTestCase {
    private let folder = "Tests/TestSupport/Fixtures/wan_mini"
    private let cache = "Tests/TestSupport/Fixtures/wan_mini_embeddings"

    func testPresetIsTheSeedsWanScript() throws {
        let result = try DancegrpoExecutable.run([
            "train", "--model", "wan", "--checkpoint", folder, "--embeddings", cache, "--dry-run"
        ])
        XCTAssertEqual(result.status, 0, result.output)
        for line in [
            "height", "width", "samplingSteps", "guidanceScale", "numGenerations", "gradientAccumulationSteps",
            "numFrames", "rewardFrames"
        ] {
            XCTAssert(result.output.contains(line), "\(line) missing:\n\(result.output)")
        }
        func value(_ key: String) -> String? {
            result.output.split(separator: "\n").first { $0.hasPrefix(key + " ") }?
                .split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.map(String.init)
        }
        XCTAssertEqual(value("height"), "512")
        XCTAssertEqual(value("samplingSteps"), "20")
        XCTAssertEqual(value("guidanceScale"), "5")
        XCTAssertEqual(value("gradientAccumulationSteps"), "24")
        XCTAssertEqual(value("numFrames"), "1")

        // DanceGRPO's finetune_wan_2_1_grpo.sh as a config file resolves to the same settings.
        let seed = try DancegrpoExecutable.run(["train", "--config", "configs/seed-wan.json", "--dry-run"])
        XCTAssertEqual(seed.status, 0, seed.output)
        XCTAssert(seed.output.contains("guidanceScale               5    (/"), seed.output)

        let bad = try DancegrpoExecutable.run([
            "train", "--model", "wan", "--checkpoint", folder, "--embeddings", cache, "--num-frames", "4", "--dry-run"
        ])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssert(bad.output.contains("1 + 4k frames"), bad.output)
    }

    func testVideoGRPORunsAndCheckpoints() throws {
        guard FileManager.default.fileExists(atPath: DancegrpoExecutable.url.path) else {
            return XCTFail("\(DancegrpoExecutable.url.path) is missing: build with `swift build --build-tests`")
        }
        let root = try RunFolderFiles.temporaryRoot("wan")
        defer { try? FileManager.default.removeItem(at: root) }
        let run = root.appendingPathComponent("run")
        let result = try DancegrpoExecutable.run([
            "train", "--model", "wan", "--checkpoint", folder, "--embeddings", cache, "--height", "32", "--width",
            "32", "--num-frames", "5", "--reward-frames", "all", "--processes", "1", "--prompts-per-iteration", "1",
            "--num-generations", "2", "--sampling-steps", "4", "--gradient-accumulation-steps", "2", "--reward",
            "jpeg-compressibility", "--eval-prompts", "2", "--eval-every", "1", "--checkpoint-every", "2",
            "--iterations", "2", "--output-dir", run.path
        ])
        XCTAssertEqual(result.status, 0, result.output)
        let rewards = try String(contentsOf: run.appendingPathComponent("reward.txt"), encoding: .utf8)
            .split(separator: "\n").compactMap { Double($0) }
        XCTAssertEqual(rewards.count, 2)
        XCTAssert(rewards.allSatisfy(\.isFinite), "\(rewards)")
        // The held-out clips before and after training, as MP4s of sample grids beside their first-frame PNGs.
        for clip in ["samples-before", "samples-after"] {
            for ext in ["mp4", "png"] {
                XCTAssert(
                    FileManager.default.fileExists(atPath: run.appendingPathComponent("\(clip).\(ext)").path),
                    "\(clip).\(ext) missing")
            }
        }
        let transformer = run.appendingPathComponent("checkpoint-2-0/transformer")
        for file in ["config.json", "diffusion_pytorch_model.safetensors"] {
            XCTAssert(
                FileManager.default.fileExists(atPath: transformer.appendingPathComponent(file).path),
                "\(file) missing in \(transformer.path)")
        }
    }

    /// `preprocess --model wan` with the folder's UMT5 writes a cache that `train --model wan` reads.
    func testPreprocessThenTrain() throws {
        let root = try RunFolderFiles.temporaryRoot("wan-preprocess")
        defer { try? FileManager.default.removeItem(at: root) }
        let promptFile = root.appendingPathComponent("prompts.txt")
        try "a red fox running in the snow\n\ntwo blue cubes on a table\n".write(
            to: promptFile, atomically: true, encoding: .utf8)
        let cacheFolder = root.appendingPathComponent("embeddings")
        let preprocess = try DancegrpoExecutable.run([
            "preprocess", "--model", "wan", "--checkpoint", folder, "--prompts", promptFile.path, "--out",
            cacheFolder.path, "--max-sequence-length", "16"
        ])
        XCTAssertEqual(preprocess.status, 0, preprocess.output)
        let manifest = try String(
            contentsOf: cacheFolder.appendingPathComponent("videos2caption.json"), encoding: .utf8)
        XCTAssert(manifest.contains("\"negative_prompt_embeds_path\" : \"2.safetensors\""), manifest)
        let train = try DancegrpoExecutable.run([
            "train", "--model", "wan", "--checkpoint", folder, "--embeddings", cacheFolder.path, "--height", "16",
            "--width", "16", "--processes", "1", "--prompts-per-iteration", "1", "--num-generations", "2",
            "--sampling-steps", "3", "--gradient-accumulation-steps", "2", "--reward", "jpeg-compressibility",
            "--eval-prompts", "1", "--eval-every", "0", "--checkpoint-every", "0", "--iterations", "1",
            "--output-dir", root.appendingPathComponent("run").path
        ])
        XCTAssertEqual(train.status, 0, train.output)
    }

    /// `sample --model wan` from diffusers' initial latents reproduces `WanPipeline`'s final latents
    /// (`--save-latents`, diffusers' layout) and writes one MP4 per prompt.
    func testSampleMatchesDiffusersFromTheSameNoise() throws {
        let root = try RunFolderFiles.temporaryRoot("wan-sample")
        defer { try? FileManager.default.removeItem(at: root) }
        let golden = "Tests/TestSupport/Fixtures/wan_mini_pipeline.safetensors"
        let result = try DancegrpoExecutable.run([
            "sample", "--model", "wan", "--checkpoint", folder, "--prompt", "a red fox running in the snow",
            "--prompt", "two blue cubes on a table", "--num-frames", "5", "--height", "32", "--width", "32",
            "--steps", "4", "--guidance", "5", "--max-sequence-length", "16", "--initial-noise", golden,
            "--save-latents", "--out", root.path
        ])
        XCTAssertEqual(result.status, 0, result.output)
        let files = try FileManager.default.contentsOfDirectory(atPath: root.path).sorted()
        XCTAssertEqual(files.filter { $0.hasSuffix(".mp4") }.count, 2, "\(files)")
        XCTAssert(files.contains("grid.png"), "\(files)")
        let expected = try RunFolderFiles.float32Tensor(
            DancegrpoExecutable.packageRoot.appendingPathComponent(golden), key: "final_latents")
        let actual = try RunFolderFiles.float32Tensor(
            root.appendingPathComponent("latents.safetensors"), key: "latents")
        XCTAssertEqual(actual.count, expected.count)
        let scale = expected.map(abs).max() ?? 1
        let error = zip(actual, expected).map { abs($0 - $1) }.max() ?? .infinity
        XCTAssertLessThanOrEqual(error, 1e-4 * scale, "max abs error of the final latents")
    }

    /// Two processes with ZeRO stage 3 train the Wan transformer sharded and write the same diffusers-layout
    /// checkpoint a single process writes.
    func testTwoProcessesShardedTraining() throws {
        let root = try RunFolderFiles.temporaryRoot("wan-zero3")
        defer { try? FileManager.default.removeItem(at: root) }
        let run = root.appendingPathComponent("run")
        let result = try DancegrpoExecutable.run([
            "train", "--model", "wan", "--checkpoint", folder, "--embeddings", cache, "--height", "32", "--width",
            "32", "--num-frames", "5", "--processes", "2", "--zero-stage", "3", "--prompts-per-iteration", "1",
            "--num-generations", "2", "--sampling-steps", "3", "--gradient-accumulation-steps", "2", "--reward",
            "jpeg-compressibility", "--eval-prompts", "2", "--eval-every", "0", "--checkpoint-every", "2",
            "--iterations", "2", "--output-dir", run.path
        ])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssert(result.output.contains("19832 transformer parameters"), result.output)
        let weights = run.appendingPathComponent("checkpoint-2-0/transformer/diffusion_pytorch_model.safetensors")
        XCTAssertEqual(try RunFolderFiles.float32Values(weights).count, 19832)
    }
}
