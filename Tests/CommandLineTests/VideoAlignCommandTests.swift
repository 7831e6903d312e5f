import Checkpoints
import Engine
import Foundation
import Imaging
import Video
import XCTest

/// VideoAlign's rewards from the command line, on the tiny VideoReward checkpoint folder of
/// tools/goldens/videoalign_end_to_end.py: `score --videos` on MP4 files prints and writes VQ / MQ (normalised, and
/// de-normalised with the folder's statistics) per clip, and `train --model hunyuan-video --reward videoalign-vq`
/// finds the folder as `<reward-dir>/videoalign_ckpt` and writes vq_reward.txt and mq_reward.txt beside reward.txt.
final class VideoAlignCommandTests: XCTestCase {
    private let checkpoint = DancegrpoExecutable.packageRoot.appendingPathComponent(
        "Tests/TestSupport/Fixtures/videoalign_e2e")

    /// The golden clip's frames, its rate, and the normalised VQ, MQ, TA of its first prompt.
    private func clip() throws -> (frames: [RGBImage], fps: Double, prompt: String, normalized: [Double]) {
        let (tensors, metadata) = try SafeTensors.loadWithMetadata(
            DancegrpoExecutable.packageRoot.appendingPathComponent(
                "Tests/TestSupport/Fixtures/videoalign_e2e.safetensors"))
        let bytes = tensors["clip"]!.toArray(UInt8.self)
        let size = 56 * 84 * 3
        let frames = try (0..<6).map {
            try RGBImage(width: 84, height: 56, pixels: Array(bytes[$0 * size..<($0 + 1) * size]))
        }
        let prompts = try JSONDecoder().decode([String].self, from: Data(metadata["prompts"]!.utf8))
        let normalized = tensors["normalized"]!.toArray(Float.self).prefix(3).map(Double.init)
        return (frames, Double(metadata["fps"]!)!, prompts[0], normalized)
    }

    func testScoreVideosWithBothHeads() throws {
        let root = try RunFolderFiles.temporaryRoot("videoalign-score")
        defer { try? FileManager.default.removeItem(at: root) }
        let (frames, fps, prompt, golden) = try clip()
        let first = root.appendingPathComponent("clip.mp4")
        let second = root.appendingPathComponent("reversed.mp4")
        try writeMP4(frames: frames, fps: fps, to: first)
        try writeMP4(frames: frames.reversed(), fps: fps, to: second)
        let csv = root.appendingPathComponent("scores.csv")
        let result = try DancegrpoExecutable.run([
            "score", "--reward", "videoalign-vq,videoalign-mq", "--videos", first.path, second.path, "--prompt",
            prompt, "--videoalign-checkpoint", checkpoint.path, "--csv", csv.path
        ])
        XCTAssertEqual(result.status, 0, result.output)
        let header = ["videoalign-vq", "videoalign-mq", "VQ", "MQ", "TA", "VQ raw", "MQ raw", "TA raw"]
        let lines = result.output.split(separator: "\n").map(String.init)
        XCTAssert(
            lines.contains { line in line.hasPrefix("video") && header.allSatisfy { line.contains($0) } },
            result.output)
        XCTAssert(lines.contains { $0.hasPrefix("clip.mp4") }, result.output)
        XCTAssert(lines.contains { $0.hasPrefix("reversed.mp4") }, result.output)

        let rows = try String(contentsOf: csv, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(rows.first, "video,prompt," + header.joined(separator: ","))
        XCTAssertEqual(rows.count, 3, "\(rows)")
        let file =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: checkpoint.appendingPathComponent("model_config.json"))) as! [String: Any]
        let stats = file["inference_config"] as! [String: Double]
        for (row, path) in zip(rows.dropFirst(), [first.path, second.path]) {
            XCTAssert(row.hasPrefix(path + ","), row)
            let values = row.split(separator: ",").suffix(header.count).compactMap { Double($0) }
            XCTAssertEqual(values.count, header.count, row)
            XCTAssert(values.allSatisfy(\.isFinite), row)
            let column = Dictionary(uniqueKeysWithValues: zip(header, values))
            XCTAssertEqual(column["videoalign-vq"]!, column["VQ"]!, accuracy: 1e-7, row)
            XCTAssertEqual(column["videoalign-mq"]!, column["MQ"]!, accuracy: 1e-7, row)
            for key in ["VQ", "MQ", "TA"] {
                XCTAssertEqual(
                    column["\(key) raw"]!, column[key]! * stats["\(key)_std"]! + stats["\(key)_mean"]!, accuracy: 1e-6,
                    row)
            }
        }
        // H.264 is lossy: the clip read back scores near the golden of its frames, not to 1e-4.
        let decoded = rows[1].split(separator: ",").suffix(header.count).compactMap { Double($0) }
        let error = zip(decoded[2..<5], golden).map { abs($0 - $1) }.max()!
        print("VideoAlign score --videos: max |VQ, MQ, TA from MP4 − golden| \(error)")
        XCTAssertLessThan(error, 0.02, "\(decoded) vs \(golden)")
    }

    func testHunyuanVideoTrainsOnVideoAlignVQ() throws {
        let root = try RunFolderFiles.temporaryRoot("videoalign-train")
        defer { try? FileManager.default.removeItem(at: root) }
        let rewardDir = root.appendingPathComponent("rewards")
        try FileManager.default.createDirectory(at: rewardDir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: checkpoint, to: rewardDir.appendingPathComponent("videoalign_ckpt"))
        let run = root.appendingPathComponent("run")
        let train = try DancegrpoExecutable.run([
            "train", "--model", "hunyuan-video", "--checkpoint", "Tests/TestSupport/Fixtures/hunyuan_video_mini",
            "--embeddings", "Tests/TestSupport/Fixtures/hunyuan_video_mini_embeddings", "--height", "32", "--width",
            "32", "--num-frames", "5", "--processes", "1", "--num-generations", "2", "--best-of-n", "0",
            "--sampling-steps", "3", "--gradient-accumulation-steps", "1", "--reward", "videoalign-vq",
            "--reward-dir", rewardDir.path, "--eval-prompts", "1", "--eval-every", "0", "--checkpoint-every", "0",
            "--iterations", "2", "--output-dir", run.path
        ])
        XCTAssertEqual(train.status, 0, train.output)
        var lines: [String: [Double]] = [:]
        for name in ["reward.txt", "vq_reward.txt", "mq_reward.txt"] {
            let text = try String(contentsOf: run.appendingPathComponent(name), encoding: .utf8)
            lines[name] = text.split(separator: "\n").compactMap { Double($0) }
            XCTAssertEqual(lines[name]!.count, 2, "\(name): \(text)")
            XCTAssert(lines[name]!.allSatisfy(\.isFinite), "\(name): \(text)")
        }
        // The reward is VQ alone: the logged VQ is the iteration's reward.
        for (reward, vq) in zip(lines["reward.txt"]!, lines["vq_reward.txt"]!) {
            XCTAssertEqual(reward, vq, accuracy: 1e-5)
        }
    }
}
