import Checkpoints
import Engine
import Foundation
import Imaging
import Models
import Rewards
import TestSupport
import XCTest

/// VideoAlign end to end (tools/goldens/videoalign_end_to_end.py): the tiny VideoReward checkpoint folder
/// Fixtures/videoalign_e2e (LoRA layout, its base Qwen2-VL folder holding the processor files) scores a 6-frame clip
/// with two prompts as VideoAlign's `reward(..., use_norm=True)` does — frame sampling and resizing, prompt, the real
/// transformers processor, the model with its reward head, `_norm` — within 1e-4 of the scores' scale, both through
/// ``VideoAlignScorer`` and through the catalog's `videoalign-vq` / `-mq` / `-overall` rewards.
final class VideoAlignRewardTests: XCTestCase {
    private struct Golden {
        var frames: [RGBImage]
        var fps: Double
        var prompts: [String]
        /// `[prompt][VQ, MQ, TA]`.
        var normalized: [[Double]]
    }

    private func golden() throws -> Golden {
        let (tensors, metadata) = try SafeTensors.loadWithMetadata(Fixture.url("videoalign_e2e.safetensors"))
        let clip = tensors["clip"]!
        XCTAssertEqual(clip.shape, [6, 56, 84, 3])
        let bytes = clip.toArray(UInt8.self)
        let size = 56 * 84 * 3
        let frames = try (0..<6).map {
            try RGBImage(width: 84, height: 56, pixels: Array(bytes[$0 * size..<($0 + 1) * size]))
        }
        let prompts = try JSONDecoder().decode([String].self, from: Data(metadata["prompts"]!.utf8))
        let values = tensors["normalized"]!.toArray(Float.self).map(Double.init)
        return Golden(
            frames: frames, fps: Double(metadata["fps"]!)!, prompts: prompts,
            normalized: (0..<prompts.count).map { Array(values[$0 * 3..<$0 * 3 + 3]) })
    }

    private var folder: URL { Fixture.url("videoalign_e2e") }

    /// The largest |actual − expected| over the rows, and the bound 1e-4 · max(1, max|expected|).
    private func check(_ actual: [[Double]], _ expected: [[Double]], _ what: String) {
        XCTAssertEqual(actual.count, expected.count, what)
        let scale = max(1, expected.flatMap { $0 }.map(abs).max() ?? 0)
        let error = zip(actual.flatMap { $0 }, expected.flatMap { $0 }).map { abs($0 - $1) }.max() ?? .infinity
        print("VideoAlign end to end, \(what): max abs error \(error) (scale \(scale))")
        XCTAssertLessThanOrEqual(error, 1e-4 * scale, "\(what): \(actual) vs \(expected)")
    }

    func testScorerMatchesVideoAlignInference() throws {
        let g = try golden()
        let scorer = try VideoAlignScorer(folder: folder)
        let video = VideoAlignInputVideo(frames: g.frames.map(\.pixels), height: 56, width: 84, fps: g.fps)
        let scores = try g.prompts.map { try scorer.normalizedScores(video, prompt: $0) }
        check(scores.map { [$0.vq, $0.mq, $0.ta] }, g.normalized, "VideoAlignScorer VQ, MQ, TA")
        // The prompt reaches the head: TA (after the prompt) differs between the prompts.
        XCTAssertNotEqual(g.normalized[0][2], g.normalized[1][2])
    }

    /// model_config.json's data_config decides the sampling: with "num_frames" set, prepare_batch's `nframes` entry
    /// takes all 6 frames (3 temporal patches) instead of the 4 that fps 2 gives.
    func testFrameCountFromDataConfig() throws {
        let g = try golden()
        let (tensors, metadata) = try SafeTensors.loadWithMetadata(Fixture.url("videoalign_e2e.safetensors"))
        let copy = try temporaryDirectory(self).appendingPathComponent("videoalign_ckpt")
        try FileManager.default.copyItem(at: folder, to: copy)
        let file = copy.appendingPathComponent("model_config.json")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as! [String: Any]
        config["data_config"] = try JSONSerialization.jsonObject(
            with: Data(metadata["num_frames_data_config"]!.utf8))
        try JSONSerialization.data(withJSONObject: config).write(to: file)

        let scorer = try VideoAlignScorer(folder: copy)
        let video = VideoAlignInputVideo(frames: g.frames.map(\.pixels), height: 56, width: 84, fps: g.fps)
        let batch = try scorer.processor.batch(videos: [video], prompts: [g.prompts[0]], settings: scorer.settings)
        XCTAssertEqual(batch.grids.map { [$0.t, $0.h, $0.w] }, [[3, 2, 4]])
        let scores = try g.prompts.map { try scorer.normalizedScores(video, prompt: $0) }
        let values = tensors["normalized_num_frames"]!.toArray(Float.self).map(Double.init)
        check(
            scores.map { [$0.vq, $0.mq, $0.ta] }, [Array(values[0..<3]), Array(values[3..<6])],
            "num_frames 6: VQ, MQ, TA")
    }

    func testCatalogRewardsScoreVideos() throws {
        let g = try golden()
        var locations = RewardLocations(directory: try temporaryDirectory(self))
        locations.videoAlignModel = folder
        let samples = g.prompts.map { _ in GeneratedSample.video(frames: g.frames, framesPerSecond: g.fps) }
        let prompts = g.prompts.map { Prompt(text: $0) }

        // The de-normalisation read from the file, not from the code's constants.
        let file =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: folder.appendingPathComponent("model_config.json"))) as! [String: Any]
        let stats = file["inference_config"] as! [String: Double]

        // `reward()`'s Overall is the sum of the normalised heads.
        for (name, columns) in [("videoalign-vq", [0]), ("videoalign-mq", [1]), ("videoalign-overall", [0, 1, 2])] {
            let reward = try RewardCatalog.standard.make(name, locations: locations)
            XCTAssertEqual(reward.name, name)
            let scored = try reward.score(samples, prompts: prompts)
            let expected = g.normalized.map { row in [columns.map { row[$0] }.reduce(0, +)] }
            check(scored.scores.map { [$0] }, expected, "\(name) scores")
            for (key, index) in [("VQ", 0), ("MQ", 1), ("TA", 2)] {
                check(scored.info[key]!.map { [$0] }, g.normalized.map { [$0[index]] }, "\(name) info \(key)")
                let raw = g.normalized.map { [$0[index] * stats["\(key)_std"]! + stats["\(key)_mean"]!] }
                check(scored.info["\(key) raw"]!.map { [$0] }, raw, "\(name) info \(key) raw")
            }
        }

        // A picture is refused: VideoAlign samples frames by time.
        let reward = try RewardCatalog.standard.make("videoalign-vq", locations: locations)
        XCTAssertThrowsError(try reward.score(images: [g.frames[0]], prompts: [prompts[0]])) {
            XCTAssert("\($0)".contains("got a picture"), "\($0)")
        }
    }

    func testMissingCheckpointFolderIsNamed() throws {
        let root = try temporaryDirectory(self)
        var locations = RewardLocations(directory: root)
        XCTAssertThrowsError(try RewardCatalog.standard.make("videoalign-vq", locations: locations)) {
            XCTAssert("\($0)".contains(root.appendingPathComponent("videoalign_ckpt").path + ": not found"), "\($0)")
        }
        let missing = root.appendingPathComponent("no-such-checkpoint")
        locations.videoAlignModel = missing
        XCTAssertThrowsError(try RewardCatalog.standard.make("videoalign-mq", locations: locations)) {
            XCTAssert("\($0)".contains(missing.path + ": not found"), "\($0)")
        }
        // A LoRA checkpoint without its base model names where it looked.
        let noBase = root.appendingPathComponent("no-base")
        try FileManager.default.copyItem(at: folder, to: noBase)
        try FileManager.default.removeItem(at: noBase.appendingPathComponent("Qwen2-VL-2B-Instruct"))
        locations.videoAlignModel = noBase
        XCTAssertThrowsError(try RewardCatalog.standard.make("videoalign-ta", locations: locations)) {
            XCTAssert("\($0)".contains(noBase.appendingPathComponent("Qwen2-VL-2B-Instruct").path), "\($0)")
        }
    }
}
