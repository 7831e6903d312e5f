import Foundation
import XCTest

/// `preprocess` and `train --model qwen-image-edit` as users run them: the preset is the seed's Qwen-Image-Edit script
/// (512 × 512, 20 steps, 2 samples × 8, an optimizer step every 8 samples, no guidance), preprocessing reads a
/// SEED-Data-Edit annotation file and its images, and GRPO on the miniature folder writes a diffusers-layout
/// transformer checkpoint.
final class QwenImageEditTrainCommandTests: XCTestCase {
    private let folder = "Tests/TestSupport/Fixtures/qwen_image_edit_mini"

    private func value(_ key: String, in output: String) -> String? {
        output.split(separator: "\n").first { $0.hasPrefix(key + " ") }?
            .split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.map(String.init)
    }

    /// SEED-Data-Edit's layout: `images/2_0.jpg` (40×24) and `images/28_0.png` (24×40) with their two annotation
    /// lines in `edit_data.jsonl`, as the seed's `assets/edit_data.jsonl`.
    private let data = "Tests/TestSupport/Fixtures/qwen_image_edit_seed_data"

    /// An annotation file of `lines` in `root`, its images in the fixture's folder.
    private func annotations(_ root: URL, _ lines: [String]) throws -> URL {
        let file = root.appendingPathComponent("edit_data.jsonl")
        try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    func testPresetIsTheSeedsQwenImageEditScript() throws {
        let root = try RunFolderFiles.temporaryRoot("qwen-image-edit-preset")
        defer { try? FileManager.default.removeItem(at: root) }
        let result = try DancegrpoExecutable.run([
            "train", "--model", "qwen-image-edit", "--checkpoint", folder, "--embeddings", root.path, "--dry-run"
        ])
        XCTAssertEqual(result.status, 0, result.output)
        for (key, expected) in [
            ("height", "512"), ("width", "512"), ("samplingSteps", "20"), ("promptsPerIteration", "2"),
            ("numGenerations", "8"), ("gradientAccumulationSteps", "8"), ("guidanceScale", "1"),
            ("checkpointEvery", "60"), ("iterations", "300"), ("rewards", "hpsv2.1"), ("clipRange", "0.0001")
        ] {
            XCTAssertEqual(value(key, in: result.output), expected, "\(key)\n\(result.output)")
        }
        XCTAssert(result.output.contains("activations (training)"), result.output)
        let seed = try DancegrpoExecutable.run(["train", "--config", "configs/seed-qwen-image-edit.json", "--dry-run"])
        XCTAssertEqual(seed.status, 0, seed.output)
        for key in [
            "samplingSteps", "promptsPerIteration", "numGenerations", "gradientAccumulationSteps", "height", "width",
            "checkpointEvery", "iterations"
        ] {
            XCTAssertEqual(value(key, in: seed.output), value(key, in: result.output), key)
        }
    }

    /// `preprocess --model qwen-image-edit` reads the annotation file and its images into the seed's cache layout
    /// (states padded to `--max-sequence-length`, condition latents, calculated sizes), resumes, and `train` runs two
    /// iterations on it and writes the transformer in diffusers layout.
    func testPreprocessThenTrainWritesADiffusersCheckpoint() throws {
        let root = try RunFolderFiles.temporaryRoot("qwen-image-edit-preprocess")
        defer { try? FileManager.default.removeItem(at: root) }
        let cache = root.appendingPathComponent("embeddings")
        let arguments = [
            "preprocess", "--model", "qwen-image-edit", "--checkpoint", folder, "--data", data + "/edit_data.jsonl",
            "--output",
            cache.path, "--image-area", "4096", "--max-sequence-length", "256", "--dtype", "float32"
        ]
        let preprocess = try DancegrpoExecutable.run(arguments)
        XCTAssertEqual(preprocess.status, 0, preprocess.output)
        let manifest = try String(contentsOf: cache.appendingPathComponent("videos2caption.json"), encoding: .utf8)
        for line in [
            "\"calculated_height\" : 64", "\"calculated_width\" : 96", "\"calculated_height\" : 96",
            "\"image_latents\" : \"1.safetensors\"", "\"caption\" : \"add a hat\""
        ] {
            XCTAssert(manifest.contains(line), "\(line)\n\(manifest)")
        }
        let states = try RunFolderFiles.float32Tensor(
            cache.appendingPathComponent("prompt_embed/0.safetensors"), key: "prompt_embed")
        XCTAssertEqual(states.count, 256 * 32, "padded to 256 tokens of 32 features")
        let latents = try RunFolderFiles.float32Tensor(
            cache.appendingPathComponent("image_latents/1.safetensors"), key: "image_latents")
        XCTAssertEqual(latents.count, 4 * 12 * 8, "[z_dim 4, 1, 96/8, 64/8]")
        // The seed's preprocessing run by diffusers on the same files (tools/goldens/qwen_image_edit_seed_cache.py).
        let golden = DancegrpoExecutable.packageRoot.appendingPathComponent(
            "Tests/TestSupport/Fixtures/qwen_image_edit_seed_preprocess.safetensors")
        for (i, length) in [(0, 148), (1, 146)] {
            for (folder, key, count) in [
                ("prompt_embed", "prompt_embeds", length * 32), ("image_latents", "image_latents", 384)
            ] {
                let expected = try RunFolderFiles.float32Tensor(golden, key: "\(key).\(i)")
                let cached = try RunFolderFiles.float32Tensor(
                    cache.appendingPathComponent("\(folder)/\(i).safetensors"), key: folder)
                XCTAssertEqual(expected.count, count, key)
                let scale = expected.map(abs).max() ?? 1
                let error = zip(cached.prefix(count), expected).map { abs($0 - $1) }.max() ?? .infinity
                XCTAssertLessThanOrEqual(error, 1e-4 * scale, "sample \(i) \(key): max abs error")
                print("qwen-image-edit preprocess sample \(i) \(key): max abs error \(error) (scale \(scale))")
                XCTAssert(cached.dropFirst(count).allSatisfy { $0 == 0 }, "zeros past the instruction")
            }
        }
        let again = try DancegrpoExecutable.run(arguments)
        XCTAssert(again.output.contains("2 already cached"), again.output)

        let run = root.appendingPathComponent("run")
        let train = try DancegrpoExecutable.run([
            "train", "--model", "qwen-image-edit", "--checkpoint", folder, "--embeddings", cache.path, "--height",
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
    }

    /// Two processes with ZeRO stage 3 train the transformer sharded on the seed's own cache layout and write the
    /// whole diffusers-layout checkpoint.
    func testTwoProcessesShardedTrainingOnTheSeedsCache() throws {
        let root = try RunFolderFiles.temporaryRoot("qwen-image-edit-zero3")
        defer { try? FileManager.default.removeItem(at: root) }
        let run = root.appendingPathComponent("run")
        let result = try DancegrpoExecutable.run([
            "train", "--model", "qwen-image-edit", "--checkpoint", folder, "--embeddings",
            "Tests/TestSupport/Fixtures/qwen_image_edit_seed_cache", "--height", "32", "--width", "32", "--processes",
            "2", "--zero-stage", "3", "--prompts-per-iteration", "1", "--num-generations", "2", "--sampling-steps", "3",
            "--gradient-accumulation-steps", "2", "--reward", "jpeg-compressibility", "--eval-prompts", "2",
            "--eval-every", "0", "--checkpoint-every", "2", "--iterations", "2", "--output-dir", run.path
        ])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssert(result.output.contains("25488 transformer parameters"), result.output)
        let weights = run.appendingPathComponent("checkpoint-2-0/transformer/diffusion_pytorch_model.safetensors")
        XCTAssertEqual(try RunFolderFiles.float32Values(weights).count, 25488)
    }

    /// A missing image, a line that is not JSON and a line without its instruction stop preprocessing with the file
    /// and line named.
    func testBadInputsAreNamed() throws {
        let root = try RunFolderFiles.temporaryRoot("qwen-image-edit-bad")
        defer { try? FileManager.default.removeItem(at: root) }
        let good = #"{"source_image": "images/28_0.png", "instruction": "make the sky red"}"#
        let images = DancegrpoExecutable.packageRoot.appendingPathComponent(data).path
        for (lines, message) in [
            (
                [good, #"{"source_image": "images/9_0.jpg", "instruction": "x"}"#],
                ":2: missing image \(images)/images/9_0.jpg"
            ),
            ([good, "", #"{"source_image": "images/28_0.png", "#], ":3: not a JSON object"),
            ([#"{"source_image": "images/28_0.png"}"#], ":1: no \"instruction\" string")
        ] {
            let file = try annotations(root, lines)
            let result = try DancegrpoExecutable.run([
                "preprocess", "--model", "qwen-image-edit", "--checkpoint", folder, "--data", file.path,
                "--image-root", images, "--output", root.appendingPathComponent("cache").path
            ])
            XCTAssertNotEqual(result.status, 0)
            XCTAssert(result.output.contains(file.path + message), "\(message)\n\(result.output)")
        }
        let noData = try DancegrpoExecutable.run([
            "preprocess", "--model", "qwen-image-edit", "--checkpoint", folder, "--output", root.path
        ])
        XCTAssertNotEqual(noData.status, 0)
        XCTAssert(noData.output.contains("--model qwen-image-edit needs --data"), noData.output)
    }
}
