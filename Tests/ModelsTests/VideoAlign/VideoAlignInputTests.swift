import Checkpoints
import Engine
import Foundation
@testable import Models
import TestSupport
import Tokenizers
import XCTest

/// VideoAlign's inputs against tools/goldens/videoalign_inputs.py: vision_process.py's frame indices and sizes (the
/// transcribed functions with torch.linspace), torchvision's resize of the frames, build_prompt's text, and
/// transformers' own Qwen2VLProcessor (chat template, reward tokens, video processor, padding) on a batch of two tiny
/// videos, from processor folders in both transformers layouts.
final class VideoAlignInputTests: XCTestCase {
    private struct Golden {
        let metadata: [String: String]
        let tensors: [String: Tensor]
        func json<T>(_ key: String, as type: T.Type = T.self) throws -> T {
            let text = try XCTUnwrap(metadata[key], "metadata \(key)")
            return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed) as? T)
        }
        func video(_ key: String) -> VideoAlignInputVideo {
            let t = tensors[key]!
            let (n, h, w) = (t.dim(0), t.dim(1), t.dim(2))
            let bytes = t.toArray(UInt8.self)
            return VideoAlignInputVideo(
                frames: (0..<n).map { Array(bytes[($0 * h * w * 3)..<(($0 + 1) * h * w * 3)]) }, height: h, width: w,
                fps: 8)
        }
    }

    private func golden() throws -> Golden {
        let file = try SafeTensorsFile(url: Fixture.url("videoalign_inputs.safetensors"))
        return Golden(metadata: file.metadata, tensors: try file.tensors())
    }

    private func entrySettings(_ entry: [String: Any]) throws -> VideoAlignInputSettings {
        let count: VideoAlignFrameSampling.Count =
            (entry["nframes"] as? Int).map { .frames($0) } ?? .fps(try XCTUnwrap(entry["fps"] as? Double))
        return VideoAlignInputSettings(
            sampling: VideoAlignFrameSampling(
                count: count, sampleType: try XCTUnwrap(.init(rawValue: entry["sample_type"] as! String))),
            sizing: VideoAlignFrameSizing(
                minPixels: entry["min_pixels"] as? Int, maxPixels: entry["max_pixels"] as? Int),
            dimensions: [.visualQuality, .motionQuality, .textAlignment], template: .detailedSpecial)
    }

    func testFrameIndicesMatchVisionProcess() throws {
        let cases: [[String: Any]] = try golden().json("index_cases")
        XCTAssertEqual(cases.count, 25)
        for c in cases {
            let total = c["total"] as! Int
            let count: VideoAlignFrameSampling.Count =
                (c["nframes"] as? Int).map { .frames($0) } ?? .fps(c["fps"] as! Double)
            let sampling = VideoAlignFrameSampling(
                count: count, sampleType: try XCTUnwrap(.init(rawValue: c["sample_type"] as! String)))
            if c["error"] != nil {
                XCTAssertThrowsError(try sampling.indices(totalFrames: total, videoFPS: c["video_fps"] as! Double)) {
                    XCTAssertTrue("\($0)".contains("nframes should be in [2, \(total)]"), "\($0)")
                }
                continue
            }
            let got = try sampling.indices(totalFrames: total, videoFPS: c["video_fps"] as! Double)
            XCTAssertEqual(got, c["indices"] as! [Int], "\(c)")
        }
    }

    /// multi_pts counts frames with Python's float floor division, which can be one less than floor(a / b).
    func testPythonFloorDivision() {
        XCTAssertEqual(VideoAlignFrameSampling.pythonFloorDivision(1, 0.1), 9)
        XCTAssertEqual((1 / 0.1).rounded(.down), 10)
        XCTAssertEqual(VideoAlignFrameSampling.pythonFloorDivision(424, 8), 53)
        XCTAssertEqual(VideoAlignFrameSampling.pythonFloorDivision(-7, 2), -4)
        XCTAssertEqual(VideoAlignFrameSampling.pythonFloorDivision(423, 24000.0 / 1001), 17)
    }

    func testFrameSizesMatchFetchVideo() throws {
        let cases: [[String: Any]] = try golden().json("size_cases")
        XCTAssertEqual(cases.count, 9)
        for c in cases {
            var sizing = VideoAlignFrameSizing(minPixels: c["min_pixels"] as? Int, maxPixels: c["max_pixels"] as? Int)
            if let h = c["resized_height"] as? Int, let w = c["resized_width"] as? Int { sizing.resized = (h, w) }
            let got = try sizing.targetSize(
                frameCount: c["nframes"] as! Int, height: c["height"] as! Int, width: c["width"] as! Int)
            XCTAssertEqual([got.height, got.width], c["resized"] as! [Int], "\(c)")
        }
    }

    func testResizeMatchesTorchvisionByteForByte() throws {
        let g = try golden()
        let big = g.tensors["big"]!
        let got = VideoAlignFrameSizing.resize(
            big.toArray(UInt8.self), height: big.dim(0), width: big.dim(1), to: (28, 56))
        let want = g.tensors["big_resized"]!.toArray(UInt8.self)
        XCTAssertEqual(zip(got, want).filter { $0 != $1 }.count, 0, "60 × 100 → 28 × 56")
        // Video b's sampled frames through fetch_video (video a's are checked through its pixel values).
        let entries: [[String: Any]] = try g.json("entries")
        let setting = try entrySettings(entries[1])
        let fetched = try VideoAlignInputProcessor.fetchVideo(
            g.video("video_b"), sampling: setting.sampling, sizing: setting.sizing)
        let expected = g.tensors["resized_b"]!
        XCTAssertEqual([fetched.frames.count, fetched.height, fetched.width, 3], expected.shape)
        let differing = zip(fetched.frames.flatMap { $0 }, expected.toArray(UInt8.self)).filter { $0 != $1 }.count
        XCTAssertEqual(differing, 0, "video b: \(differing) bytes differ")
    }

    func testPromptTemplatesMatchBuildPrompt() throws {
        let cases: [[String: Any]] = try golden().json("prompt_cases")
        XCTAssertEqual(cases.count, 23)
        for c in cases {
            let dims = (c["dimension"] as? [String]) ?? [c["dimension"] as! String]
            let got = try VideoAlignPrompt.build(
                "a cat {x} \"quoted\"", dimensions: dims.map { try XCTUnwrap(.init(rawValue: $0)) },
                template: try XCTUnwrap(.init(rawValue: c["template"] as! String)))
            XCTAssertEqual(got, c["prompt"] as! String, "\(c["template"]!) \(dims)")
        }
        XCTAssertThrowsError(try VideoAlignPrompt.build("x", dimensions: [], template: .simple))
    }

    /// The whole processor call on a batch of two videos (fps and nframes entries, odd frame count padded in time,
    /// prompts of different lengths padded on the right), from both processor layouts.
    func testBatchMatchesQwen2VLProcessorInBothLayouts() throws {
        let g = try golden()
        let entries: [[String: Any]] = try g.json("entries")
        let texts: [String] = try g.json("texts")
        let rendered: [String] = try g.json("rendered")
        let specialIDs: [Int] = try g.json("special_ids")
        let settings = try entries.map { try entrySettings($0) }
        for layout in ["v4", "v5"] {
            let (processor, warnings) = try LoadWarnings.collecting {
                try VideoAlignInputProcessor.load(from: videoAlignProcessorFolder(layout, self))
            }
            XCTAssertEqual(warnings, [], layout)
            XCTAssertEqual(processor.rewardTokenIDs, specialIDs, layout)
            XCTAssertEqual(processor.tokenizer.padTokenID, Int(g.metadata["pad_id"]!), layout)
            for (text, want) in zip(texts, rendered) {
                let query = try VideoAlignPrompt.build(
                    text, dimensions: settings[0].dimensions, template: settings[0].template)
                XCTAssertEqual(VideoAlignPrompt.chatText(query), want, layout)
            }
            let batch = try processor.batch(
                videos: [g.video("video_a"), g.video("video_b")], prompts: texts, settings: settings)
            XCTAssertEqual(batch.inputIDs.toArray(Int32.self), g.tensors["input_ids"]!.toArray(Int32.self), layout)
            XCTAssertEqual(batch.inputIDs.shape, g.tensors["input_ids"]!.shape, layout)
            XCTAssertEqual(
                batch.attentionMask.toArray(Int32.self),
                g.tensors["attention_mask"]!.toArray(UInt8.self).map(Int32.init),
                layout)
            XCTAssertEqual(
                batch.mmTokenTypeIDs.toArray(Int32.self),
                g.tensors["mm_token_type_ids"]!.toArray(UInt8.self).map(Int32.init), layout)
            XCTAssertEqual(
                batch.videoGridTHW.toArray(Int32.self), g.tensors["video_grid_thw"]!.toArray(Int32.self), layout)
            let want = g.tensors["pixel_values_videos"]!
            XCTAssertEqual(batch.pixelValuesVideos.shape, want.shape, layout)
            let error = maxAbsDifference(batch.pixelValuesVideos, want)
            print("VideoAlign \(layout): pixel_values_videos \(want.shape) max abs error \(error)")
            XCTAssertLessThanOrEqual(error, 1e-4, layout)
        }
    }

    /// The video processor's own resize (frames under its `min_pixels`): float bicubic, not rounded, before
    /// normalising; the golden keeps the corner patches' rows.
    func testVideoProcessorResizeMatches() throws {
        let g = try golden()
        var processor = try VideoAlignInputProcessor.load(from: videoAlignProcessorFolder("v4", self))
        processor.video.minPixels = 3136
        let frames = g.video("resized_b")
        let (values, grid) = try processor.pixelValues(frames: frames.frames, height: 28, width: 28)
        XCTAssertEqual([grid.t, grid.h, grid.w], [2, 4, 4])
        let rows: [Int] = try g.json("upscaled_row_indices")
        let got = values.take(Tensor(rows.map(Int32.init)), axis: 0)
        let error = maxAbsDifference(got, g.tensors["upscaled_rows"]!)
        print("VideoAlign video processor upscale 28 → 56: max abs error \(error)")
        XCTAssertLessThanOrEqual(error, 1e-4)
    }

    func testTooFewFramesAndBadFoldersAreNamed() throws {
        let g = try golden()
        let one = VideoAlignInputVideo(frames: [g.video("video_b").frames[0]], height: 20, width: 40, fps: 8)
        let processor = try VideoAlignInputProcessor.load(from: videoAlignProcessorFolder("v4", self))
        let setting = VideoAlignInputSettings(
            sampling: VideoAlignFrameSampling(count: .frames(4)), sizing: VideoAlignFrameSizing(minPixels: 784),
            dimensions: [.visualQuality], template: .none)
        XCTAssertThrowsError(try processor.batch(videos: [one], prompts: ["p"], settings: setting)) {
            XCTAssertTrue("\($0)".contains("video 0: VideoAlign frame sampling: nframes should be in [2, 1]"), "\($0)")
        }
        let empty = VideoAlignInputVideo(frames: [], height: 20, width: 40, fps: 8)
        XCTAssertThrowsError(try processor.batch(videos: [empty], prompts: ["p"], settings: setting)) {
            XCTAssertTrue("\($0)".contains("the video has no frames"), "\($0)")
        }
        let folder = try temporaryDirectory(self)
        XCTAssertThrowsError(try VideoAlignInputProcessor.load(from: folder)) {
            XCTAssertTrue("\($0)".contains("no video processor settings"), "\($0)")
        }
        // A transformers-5 file whose video processor has a zero std, then one without a video processor.
        let tokenizer = Fixture.url("tokenizers/qwen2/json/tokenizer.json")
        try FileManager.default.copyItem(at: tokenizer, to: folder.appendingPathComponent("tokenizer.json"))
        let file = folder.appendingPathComponent("processor_config.json")
        try Data(#"{"video_processor": {"image_std": [0, 0.5, 0.5], "size": {"shortest_edge": 784}}}"#.utf8).write(
            to: file)
        XCTAssertThrowsError(try VideoAlignInputProcessor.load(from: folder)) {
            XCTAssertTrue("\($0)".contains("processor_config.json: image_std[0]: expected a finite nonzero"), "\($0)")
        }
        try Data(#"{"image_processor": {}}"#.utf8).write(to: file)
        XCTAssertThrowsError(try VideoAlignInputProcessor.load(from: folder)) {
            XCTAssertTrue("\($0)".contains("processor_config.json: video_processor: expected"), "\($0)")
        }
        // transformers-4 settings naming no pixel limits take the video processor's class defaults.
        try FileManager.default.removeItem(at: file)
        try Data(#"{"patch_size": 14, "processor_class": "Qwen2VLProcessor"}"#.utf8).write(
            to: folder.appendingPathComponent("preprocessor_config.json"))
        let (defaults, warnings) = try LoadWarnings.collecting { try VideoAlignInputProcessor.load(from: folder) }
        XCTAssertEqual([defaults.video.minPixels, defaults.video.maxPixels], [128 * 28 * 28, 768 * 28 * 28])
        XCTAssertEqual(warnings.map(\.key), ["min_pixels", "max_pixels", "chat_template"])
        // Another chat template is said, naming its file.
        try Data(#"{"chat_template": "{{ messages }}"}"#.utf8).write(
            to: folder.appendingPathComponent("chat_template.json"))
        let other = try LoadWarnings.collecting { try VideoAlignInputProcessor.load(from: folder) }.warnings
        XCTAssertEqual(other.last?.key, "chat_template")
        XCTAssertTrue(
            other.last?.description.contains("chat_template.json: chat_template not used") ?? false, "\(other)")
        XCTAssertEqual(defaults.rewardTokenIDs, [716, 717, 718])
        var config = VideoAlignInputDataConfig()
        config.sampleType = "random"
        XCTAssertThrowsError(try VideoAlignInputSettings(dataConfig: config)) {
            XCTAssertTrue("\($0)".contains("sample_type \"random\""), "\($0)")
        }
    }

    /// VideoReward's model_config.json keys (`eval_dim` a list, `num_frames` null) → the entry prepare_batch builds.
    func testDataConfigGivesPrepareBatchEntry() throws {
        let folder = try temporaryDirectory(self)
        let url = folder.appendingPathComponent("model_config.json")
        try Data(
            #"""
            {"data_config": {"meta_data": "x.csv", "max_frame_pixels": 200704, "num_frames": null, "fps": 2.0,
             "p_shuffle_frames": 0.0, "eval_dim": ["VQ", "MQ", "TA"], "prompt_template_type": "detailed_special",
             "sample_type": "uniform", "use_tied_data": true}, "model_config": {}}
            """#.utf8
        ).write(to: url)
        let config = try VideoAlignInputDataConfig.load(modelConfig: url)
        let settings = try VideoAlignInputSettings(dataConfig: config)
        XCTAssertEqual(settings.sampling, VideoAlignFrameSampling(count: .fps(2), sampleType: .uniform))
        XCTAssertEqual(settings.sizing, VideoAlignFrameSizing(maxPixels: 200704))
        XCTAssertEqual(settings.dimensions, [.visualQuality, .motionQuality, .textAlignment])
        XCTAssertEqual(settings.template, .detailedSpecial)
        let frames = try VideoAlignInputSettings(dataConfig: config, numFrames: 8.6)
        XCTAssertEqual(frames.sampling.count, .frames(8))
    }
}
