import Foundation
import XCTest

/// `preprocess` and `train --model hunyuan-video` as users run them: the preset is the seed's HunyuanVideo script (53
/// frames of 480 × 480, 16 Dance-SDE steps at η 0.25 and shift 5, 24 generations with best-of-8, VideoAlign's VQ),
/// the folder's Llama and CLIP cache what the seed's preprocessing caches in its layout, and GRPO on the miniature
/// folder trains from that cache and writes a diffusers-layout transformer checkpoint.
final class HunyuanVideoTrainCommandTests: XCTestCase {
    private let folder = "Tests/TestSupport/Fixtures/hunyuan_video_mini"
    private let cache = "Tests/TestSupport/Fixtures/hunyuan_video_mini_embeddings"

    private func value(_ key: String, in output: String) -> String? {
        output.split(separator: "\n").first { $0.hasPrefix(key + " ") }?
            .split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.map(String.init)
    }

    func testPresetIsTheSeedsHunyuanScript() throws {
        let result = try DancegrpoExecutable.run([
            "train", "--model", "hunyuan-video", "--checkpoint", folder, "--embeddings", cache, "--dry-run"
        ])
        XCTAssertEqual(result.status, 0, result.output)
        let expected = [
            ("height", "480"), ("width", "480"), ("numFrames", "53"), ("rewardFrames", "all"), ("samplingSteps", "16"),
            ("eta", "0.25"), ("shift", "5"), ("sampler", "dance-sde"), ("promptsPerIteration", "1"),
            ("numGenerations", "24"), ("bestOfN", "8"), ("gradientAccumulationSteps", "4"), ("iterations", "202"),
            ("learningRate", "1e-05"), ("timestepFraction", "0.6"), ("clipRange", "0.0001"), ("guidanceScale", "1"),
            ("initSameNoise", "true"), ("checkpointEvery", "50"), ("rewards", "videoalign-vq"), ("seed", "42")
        ]
        for (key, want) in expected {
            XCTAssertEqual(value(key, in: result.output), want, "\(key)\n\(result.output)")
        }
        XCTAssert(
            result.output.contains("memory plan per rank (1 rank, ZeRO stage 0, compute float32, checkpointing on"),
            result.output)
        XCTAssert(result.output.contains("activations (training)"), result.output)

        // DanceGRPO's finetune_hunyuan_grpo.sh as a config file resolves to the same settings (--t 53 included, and
        // --use_videoalign with --vq_coef 1.0 --mq_coef 0.0 as the VQ reward alone).
        let seed = try DancegrpoExecutable.run(["train", "--config", "configs/seed-hunyuan-video.json", "--dry-run"])
        XCTAssertEqual(seed.status, 0, seed.output)
        for (key, _) in expected where key != "learningRate" {
            XCTAssertEqual(value(key, in: seed.output), value(key, in: result.output), key)
        }

        let bad = try DancegrpoExecutable.run([
            "train", "--model", "hunyuan-video", "--checkpoint", folder, "--embeddings", cache, "--num-frames", "52",
            "--dry-run"
        ])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssert(bad.output.contains("1 + 4k frames"), bad.output)
        let root = try RunFolderFiles.temporaryRoot("hunyuan-video-no-cache")
        defer { try? FileManager.default.removeItem(at: root) }
        let noCache = try DancegrpoExecutable.run([
            "train", "--model", "hunyuan-video", "--checkpoint", folder, "--reward", "jpeg-compressibility",
            "--output-dir", root.appendingPathComponent("run").path
        ])
        XCTAssertNotEqual(noCache.status, 0)
        XCTAssert(noCache.output.contains("--model hunyuan-video needs --embeddings"), noCache.output)
    }

    /// `preprocess --model hunyuan-video` caches, per prompt line, the seed's packed rows (CLIP's pooled vector padded
    /// to the Llama width, then the Llama states) as its preprocessing computes them, within 1e-4 of their scale, and
    /// `train` reads that cache for 2 iterations of video GRPO that write rewards, clips and a diffusers checkpoint.
    func testPreprocessThenTrainTwoIterations() throws {
        let root = try RunFolderFiles.temporaryRoot("hunyuan-video-preprocess")
        defer { try? FileManager.default.removeItem(at: root) }
        let promptFile = root.appendingPathComponent("prompts.txt")
        try "a cat\n\ntwo blue cubes on a table\nA cat walks on the grass, realistic style, sunny afternoon.\n".write(
            to: promptFile, atomically: true, encoding: .utf8)
        let cacheFolder = root.appendingPathComponent("embeddings")
        let preprocess = try DancegrpoExecutable.run([
            "preprocess", "--model", "hunyuan-video", "--checkpoint", folder, "--prompts", promptFile.path, "--out",
            cacheFolder.path, "--max-sequence-length", "32", "--dtype", "float32"
        ])
        XCTAssertEqual(preprocess.status, 0, preprocess.output)
        // Another family's folder is refused, naming the file that is not HunyuanVideo's.
        let wrongFolder = try DancegrpoExecutable.run([
            "preprocess", "--model", "hunyuan-video", "--checkpoint", "Tests/TestSupport/Fixtures/wan_mini",
            "--prompts", promptFile.path, "--out", root.appendingPathComponent("wrong").path
        ])
        XCTAssertNotEqual(wrongFolder.status, 0)
        XCTAssert(wrongFolder.output.contains("wan_mini/tokenizer/tokenizer.json"), wrongFolder.output)
        let manifest = try String(
            contentsOf: cacheFolder.appendingPathComponent("videos2caption.json"), encoding: .utf8)
        XCTAssert(manifest.contains("\"prompt_attention_mask\" : \"3.safetensors\""), manifest)
        let golden = DancegrpoExecutable.packageRoot.appendingPathComponent("\(cache)/expected.safetensors")
        for (line, index) in [(0, 0), (2, 1), (3, 2)] {
            let expected = try RunFolderFiles.float32Tensor(golden, key: "prompt_embed/\(index)")
            let cached = try RunFolderFiles.float32Tensor(
                cacheFolder.appendingPathComponent("prompt_embed/\(line).safetensors"), key: "prompt_embed")
            XCTAssertEqual(cached.count, 33 * 32, "1 + 32 rows of 32 features")
            let scale = expected.map(abs).max() ?? 1
            let error = zip(cached, expected).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThanOrEqual(error, 1e-4 * scale, "line \(line): max abs error \(error), scale \(scale)")
        }

        let run = root.appendingPathComponent("run")
        let train = try DancegrpoExecutable.run([
            "train", "--model", "hunyuan-video", "--checkpoint", folder, "--embeddings", cacheFolder.path, "--height",
            "32", "--width", "32", "--num-frames", "5", "--processes", "1", "--num-generations", "4", "--best-of-n",
            "2", "--sampling-steps", "3", "--gradient-accumulation-steps", "2", "--reward", "jpeg-compressibility",
            "--eval-prompts", "1", "--eval-every", "0", "--checkpoint-every", "2", "--iterations", "2",
            "--output-dir", run.path
        ])
        XCTAssertEqual(train.status, 0, train.output)
        let rewards = try String(contentsOf: run.appendingPathComponent("reward.txt"), encoding: .utf8)
            .split(separator: "\n").compactMap { Double($0) }
        XCTAssertEqual(rewards.count, 2)
        XCTAssert(rewards.allSatisfy(\.isFinite), "\(rewards)")
        for clip in ["samples-before", "samples-after"] {
            XCTAssert(
                FileManager.default.fileExists(atPath: run.appendingPathComponent("\(clip).mp4").path),
                "\(clip).mp4 missing")
        }
        let transformer = run.appendingPathComponent("checkpoint-2-0/transformer")
        for file in ["config.json", "diffusion_pytorch_model.safetensors"] {
            XCTAssert(
                FileManager.default.fileExists(atPath: transformer.appendingPathComponent(file).path),
                "\(file) missing in \(transformer.path)")
        }
        // The checkpoint samples with `sample --model hunyuan-video --transformer`.
        let samples = root.appendingPathComponent("samples")
        let sample = try DancegrpoExecutable.run([
            "sample", "--model", "hunyuan-video", "--checkpoint", folder, "--transformer",
            run.appendingPathComponent("checkpoint-2-0").path, "--prompt", "a cat", "--num-frames", "5", "--height",
            "32", "--width", "32", "--steps", "2", "--max-sequence-length", "32", "--out", samples.path
        ])
        XCTAssertEqual(sample.status, 0, sample.output)
        let written = try FileManager.default.contentsOfDirectory(atPath: samples.path)
        XCTAssertEqual(written.filter { $0.hasSuffix(".mp4") }.count, 1, "\(written)")
    }

    /// Two processes with ZeRO stage 3 train the HunyuanVideo transformer sharded and write the whole diffusers-layout
    /// checkpoint.
    func testTwoProcessesShardedTraining() throws {
        let root = try RunFolderFiles.temporaryRoot("hunyuan-video-zero3")
        defer { try? FileManager.default.removeItem(at: root) }
        let run = root.appendingPathComponent("run")
        let result = try DancegrpoExecutable.run([
            "train", "--model", "hunyuan-video", "--checkpoint", folder, "--embeddings", cache, "--height", "32",
            "--width", "32", "--num-frames", "5", "--processes", "2", "--zero-stage", "3", "--num-generations", "2",
            "--best-of-n", "0", "--sampling-steps", "3", "--gradient-accumulation-steps", "2", "--reward",
            "jpeg-compressibility", "--eval-prompts", "2", "--eval-every", "0", "--checkpoint-every", "2",
            "--iterations", "2", "--output-dir", run.path
        ])
        XCTAssertEqual(result.status, 0, result.output)
        let weights = run.appendingPathComponent("checkpoint-2-0/transformer/diffusion_pytorch_model.safetensors")
        let single = DancegrpoExecutable.packageRoot.appendingPathComponent(
            "\(folder)/transformer/diffusion_pytorch_model.safetensors")
        XCTAssertEqual(
            try RunFolderFiles.float32Values(weights).count, try RunFolderFiles.float32Values(single).count,
            "every parameter gathered into the checkpoint")
    }
}
