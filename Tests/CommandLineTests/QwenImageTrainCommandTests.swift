import Foundation
import XCTest

/// `preprocess` and `train --model qwen-image` as users run them: the preset is the seed's Qwen-Image script (720 ×
/// 720, 20 steps, 2 prompts × 12, an optimizer step every 12 samples, no guidance), the folder's Qwen2.5-VL caches
/// what diffusers' `encode_prompt` gives in the seed's layout, and GRPO on the miniature folder writes a
/// diffusers-layout transformer checkpoint.
final class QwenImageTrainCommandTests: XCTestCase {
    private let folder = "Tests/TestSupport/Fixtures/qwen_image_mini"
    private let cache = "Tests/TestSupport/Fixtures/qwen_image_mini_embeddings"

    private func value(_ key: String, in output: String) -> String? {
        output.split(separator: "\n").first { $0.hasPrefix(key + " ") }?
            .split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.map(String.init)
    }

    func testPresetIsTheSeedsQwenImageScript() throws {
        let result = try DancegrpoExecutable.run([
            "train", "--model", "qwen-image", "--checkpoint", folder, "--embeddings", cache, "--dry-run"
        ])
        XCTAssertEqual(result.status, 0, result.output)
        for (key, expected) in [
            ("height", "720"), ("width", "720"), ("samplingSteps", "20"), ("promptsPerIteration", "2"),
            ("numGenerations", "12"), ("gradientAccumulationSteps", "12"), ("guidanceScale", "1"),
            ("checkpointEvery", "60"), ("iterations", "300"), ("rewards", "hpsv2.1"), ("clipRange", "0.0001")
        ] {
            XCTAssertEqual(value(key, in: result.output), expected, "\(key)\n\(result.output)")
        }
        // The memory plan counts the transformer and its joint attention over image and text tokens.
        XCTAssert(
            result.output.contains("memory plan per rank (1 rank, ZeRO stage 0, compute float32, checkpointing on"),
            result.output)
        XCTAssert(result.output.contains("activations (training)"), result.output)

        // DanceGRPO's finetune_qwenimage_grpo.sh as a config file resolves to the same settings.
        let seed = try DancegrpoExecutable.run(["train", "--config", "configs/seed-qwen-image.json", "--dry-run"])
        XCTAssertEqual(seed.status, 0, seed.output)
        for key in ["samplingSteps", "promptsPerIteration", "gradientAccumulationSteps", "height", "checkpointEvery"] {
            XCTAssertEqual(value(key, in: seed.output), value(key, in: result.output), key)
        }

        let bad = try DancegrpoExecutable.run([
            "train", "--model", "qwen-image", "--checkpoint", folder, "--embeddings", cache, "--height", "40",
            "--dry-run"
        ])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssert(bad.output.contains("a multiple of 16"), bad.output)
    }

    /// `preprocess --model qwen-image` caches the prompt's states as diffusers' `encode_prompt` gives them (within
    /// 1e-4 of their scale), padded to the seed's 1024 tokens, and `train` reads that cache for an iteration that
    /// writes the transformer in diffusers layout.
    func testPreprocessThenTrainWritesADiffusersCheckpoint() throws {
        let root = try RunFolderFiles.temporaryRoot("qwen-image-preprocess")
        defer { try? FileManager.default.removeItem(at: root) }
        let promptFile = root.appendingPathComponent("prompts.txt")
        try "a red fox running in the snow\n\ntwo blue cubes on a table\n".write(
            to: promptFile, atomically: true, encoding: .utf8)
        let cacheFolder = root.appendingPathComponent("embeddings")
        let preprocess = try DancegrpoExecutable.run([
            "preprocess", "--model", "qwen-image", "--checkpoint", folder, "--prompts", promptFile.path, "--out",
            cacheFolder.path, "--dtype", "float32"
        ])
        XCTAssertEqual(preprocess.status, 0, preprocess.output)
        let manifest = try String(
            contentsOf: cacheFolder.appendingPathComponent("videos2caption.json"), encoding: .utf8)
        for line in [
            "\"original_length\" : 66", "\"original_length\" : 71", "\"prompt_attention_mask\" : \"2.safetensors\""
        ] {
            XCTAssert(manifest.contains(line), "\(line)\n\(manifest)")
        }
        let golden = DancegrpoExecutable.packageRoot.appendingPathComponent(
            "Tests/TestSupport/Fixtures/qwen_image_mini_preprocess.safetensors")
        for (file, key, length) in [("0", "prompt_embeds.0", 66), ("2", "prompt_embeds.1", 71)] {
            let expected = try RunFolderFiles.float32Tensor(golden, key: key)
            let cached = try RunFolderFiles.float32Tensor(
                cacheFolder.appendingPathComponent("prompt_embed/\(file).safetensors"), key: "prompt_embed")
            XCTAssertEqual(cached.count, 1024 * 32, "padded to 1024 tokens of 32 features")
            let scale = expected.map(abs).max() ?? 1
            let error = zip(cached.prefix(length * 32), expected).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThanOrEqual(error, 1e-4 * scale, "prompt \(file): max abs error")
            XCTAssert(cached.dropFirst(length * 32).allSatisfy { $0 == 0 }, "zeros past the prompt")
        }
        // A second run finds every prompt cached.
        let again = try DancegrpoExecutable.run([
            "preprocess", "--model", "qwen-image", "--checkpoint", folder, "--prompts", promptFile.path, "--out",
            cacheFolder.path, "--dtype", "float32"
        ])
        XCTAssert(again.output.contains("2 already cached"), again.output)
        XCTAssertEqual(
            try String(contentsOf: cacheFolder.appendingPathComponent("videos2caption.json"), encoding: .utf8),
            manifest)

        let run = root.appendingPathComponent("run")
        let train = try DancegrpoExecutable.run([
            "train", "--model", "qwen-image", "--checkpoint", folder, "--embeddings", cacheFolder.path, "--height",
            "32", "--width", "32", "--processes", "1", "--prompts-per-iteration", "2", "--num-generations", "2",
            "--sampling-steps", "3", "--gradient-accumulation-steps", "4", "--reward", "jpeg-compressibility",
            "--eval-prompts", "1", "--eval-every", "0", "--checkpoint-every", "2", "--iterations", "2",
            "--output-dir", run.path
        ])
        XCTAssertEqual(train.status, 0, train.output)
        let rewards = try String(contentsOf: run.appendingPathComponent("reward.txt"), encoding: .utf8)
            .split(separator: "\n").compactMap { Double($0) }
        XCTAssertEqual(rewards.count, 2)
        XCTAssert(rewards.allSatisfy(\.isFinite), "\(rewards)")
        let transformer = run.appendingPathComponent("checkpoint-2-0/transformer")
        let config = try String(contentsOf: transformer.appendingPathComponent("config.json"), encoding: .utf8)
        XCTAssert(config.contains("\"joint_attention_dim\""), config)
        XCTAssertEqual(
            try RunFolderFiles.float32Values(transformer.appendingPathComponent("diffusion_pytorch_model.safetensors"))
                .count, 25488)
    }

    /// Two processes with ZeRO stage 3 train the Qwen-Image transformer sharded and write the whole diffusers-layout
    /// checkpoint.
    func testTwoProcessesShardedTraining() throws {
        let root = try RunFolderFiles.temporaryRoot("qwen-image-zero3")
        defer { try? FileManager.default.removeItem(at: root) }
        let run = root.appendingPathComponent("run")
        let result = try DancegrpoExecutable.run([
            "train", "--model", "qwen-image", "--checkpoint", folder, "--embeddings", cache, "--height", "32",
            "--width", "32", "--processes", "2", "--zero-stage", "3", "--prompts-per-iteration", "1",
            "--num-generations", "2", "--sampling-steps", "3", "--gradient-accumulation-steps", "2", "--reward",
            "jpeg-compressibility", "--eval-prompts", "2", "--eval-every", "0", "--checkpoint-every", "2",
            "--iterations", "2", "--output-dir", run.path
        ])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssert(result.output.contains("25488 transformer parameters"), result.output)
        let weights = run.appendingPathComponent("checkpoint-2-0/transformer/diffusion_pytorch_model.safetensors")
        XCTAssertEqual(try RunFolderFiles.float32Values(weights).count, 25488)
    }

    /// A folder without its VAE and a cache from another model are refused by name before training.
    func testBadInputsAreNamed() throws {
        let root = try RunFolderFiles.temporaryRoot("qwen-image-bad")
        defer { try? FileManager.default.removeItem(at: root) }
        let partial = root.appendingPathComponent("partial")
        try FileManager.default.createDirectory(at: partial, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            at: DancegrpoExecutable.packageRoot.appendingPathComponent(folder + "/transformer"),
            to: partial.appendingPathComponent("transformer"))
        let common = [
            "--height", "32", "--width", "32", "--processes", "1", "--iterations", "1", "--output-dir",
            root.appendingPathComponent("run").path
        ]
        let missing = try DancegrpoExecutable.run(
            ["train", "--model", "qwen-image", "--checkpoint", partial.path, "--embeddings", cache] + common)
        XCTAssertNotEqual(missing.status, 0)
        XCTAssert(missing.output.contains("not a diffusers Qwen-Image folder: missing vae"), missing.output)
        let wanCache = try DancegrpoExecutable.run(
            [
                "train", "--model", "qwen-image", "--checkpoint", folder, "--embeddings",
                "Tests/TestSupport/Fixtures/wan_mini_embeddings"
            ] + common)
        XCTAssertNotEqual(wanCache.status, 0)
        XCTAssert(wanCache.output.contains("has no 'prompt_attention_mask'"), wanCache.output)
        let noCache = try DancegrpoExecutable.run(["train", "--model", "qwen-image", "--checkpoint", folder] + common)
        XCTAssertNotEqual(noCache.status, 0)
        XCTAssert(noCache.output.contains("--model qwen-image needs --embeddings"), noCache.output)
    }
}
