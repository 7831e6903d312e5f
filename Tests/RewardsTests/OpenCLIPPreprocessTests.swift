import Checkpoints
import Engine
import Foundation
import Imaging
import Models
@testable import Rewards
import TestSupport
import XCTest

/// open_clip's configurable evaluation transform (`image_transform_v2` with a `PreprocessCfg`: resize modes
/// shortest, squash and longest, bicubic and bilinear, mean, std, fill) against open_clip itself, and the transform a
/// Hub `open_clip_config.json` with `resize_mode: squash` sets up (tools/goldens/openclip_preprocess.py).
final class OpenCLIPPreprocessTests: XCTestCase {
    private typealias F = RewardFixtures

    private struct Golden {
        let tensors: [String: Tensor]
        let cases: [String: [String: Any]]
        let images: [String]

        init() throws {
            let file = try SafeTensorsFile(url: F.url("openclip_preprocess.safetensors"))
            tensors = try file.tensors()
            let cases = try JSONSerialization.jsonObject(with: Data((file.metadata["cases"] ?? "").utf8))
            self.cases = try XCTUnwrap(cases as? [String: [String: Any]])
            images = try JSONDecoder().decode([String].self, from: Data((file.metadata["images"] ?? "").utf8))
        }

        func tensor(_ key: String) throws -> Tensor { try XCTUnwrap(tensors[key], "no \(key) in the golden") }

        func image(_ name: String) throws -> RGBImage {
            let t = try tensor("image.\(name)")
            return try RGBImage(width: t.shape[1], height: t.shape[0], pixels: t.toArray(UInt8.self))
        }
    }

    /// An open_clip config whose vision tower is `size` px and whose `preprocess_cfg` is `preprocess` (a
    /// `PreprocessCfg` as open_clip's `asdict` gives it), through the config parser.
    private func config(size: Int, preprocess: [String: Any]) throws -> OpenCLIPConfig {
        let root: [String: Any] = [
            "model_cfg": ["vision_cfg": ["image_size": size, "patch_size": 8], "text_cfg": [String: Any]()],
            "preprocess_cfg": preprocess
        ]
        // Through JSON text, so that the values are what the loader meets in files (NSNumber, NSArray).
        let json = try JSONSerialization.jsonObject(with: JSONSerialization.data(withJSONObject: root))
        return try OpenCLIPConfig.parse(try XCTUnwrap(json as? [String: Any]), file: "open_clip_config.json")
    }

    func testEveryResizeModeMatchesOpenCLIP() throws {
        let golden = try Golden()
        XCTAssertEqual(
            Set(golden.cases.keys.compactMap { $0.split(separator: "_").first.map(String.init) }),
            ["squash", "shortest", "longest"])
        var worst: Float = 0
        for (name, fields) in golden.cases.sorted(by: { $0.key < $1.key }) {
            let size = try XCTUnwrap(fields["size"] as? Int)
            let preprocessing = CLIPImagePreprocessing.openCLIP(try config(size: size, preprocess: fields))
            for image in golden.images {
                let ours = Tensor(preprocessing.pixelValues(try golden.image(image)), shape: [size, size, 3])
                let expected = try golden.tensor("\(name).\(image)")
                worst = max(worst, maxAbsDifference(ours, expected))
                // One 8-bit level is ≥ 1/255 after normalisation: this tolerance means PIL's bytes exactly.
                assertClose(ours, expected, tolerance: 1e-5, "\(name) on \(image)")
            }
        }
        print("open_clip image_transform_v2 cases vs open_clip: max abs \(worst)")
    }

    /// DFN5B-CLIP-ViT-H-14-378's layout: `open_clip_config.json` with `preprocess_cfg` squash, bicubic, mean 0,
    /// std 1, next to the weights; the CLIP-score reward preprocesses as open_clip's `create_model_and_transforms`.
    func testSquashConfigFolderMatchesOpenCLIP() throws {
        let golden = try Golden()
        let committed = F.url("openclip_squash/open_clip_config.json")
        let parsed = try OpenCLIPConfig.load(committed)
        XCTAssertEqual(parsed.resizeMode, .squash)
        XCTAssertEqual(parsed.interpolation, .bicubic)
        XCTAssertEqual(parsed.imageMean, [0, 0, 0])
        XCTAssertEqual(parsed.imageStd, [1, 1, 1])

        let folder = try temporaryDirectory(self)
        try FileManager.default.copyItem(at: committed, to: folder.appendingPathComponent("open_clip_config.json"))
        try FileManager.default.copyItem(
            at: F.url("open_clip_pytorch_model.safetensors"),
            to: folder.appendingPathComponent("open_clip_model.safetensors"))
        let reward = try CLIPScoreReward(folder: folder)
        XCTAssertEqual(
            reward.preprocessing,
            CLIPImagePreprocessing(
                size: 48, geometry: .squash, resampler: .pilBicubic,
                mean: [0, 0, 0], std: [1, 1, 1]))
        let ours = Tensor(reward.preprocessing.pixelValues(try golden.image("wide")), shape: [48, 48, 3])
        assertClose(ours, try golden.tensor("config.wide"), tolerance: 1e-5)
    }

    func testUnknownPreprocessValuesNameFileAndKey() throws {
        let cases: [([String: Any], String)] = [
            (
                ["resize_mode": "stretch"],
                "'preprocess_cfg.resize_mode' is stretch, not one of shortest, longest, squash"
            ),
            (
                ["interpolation": "nearest"],
                "'preprocess_cfg.interpolation' is nearest, not one of bicubic, bilinear, random"
            ),
            (["mean": [0.5, 0.5]], "'preprocess_cfg.mean' must be a number or a list of 3 numbers"),
            (["fill_color": 300], "'preprocess_cfg.fill_color' must be a pixel value in 0...255")
        ]
        for (preprocess, message) in cases {
            XCTAssertThrowsError(try config(size: 24, preprocess: preprocess)) { error in
                XCTAssert("\(error)".hasPrefix("open_clip_config.json: \(message)"), "\(error)")
            }
        }
        // A single number stands for all three channels, as in open_clip's image_transform.
        XCTAssertEqual(try config(size: 24, preprocess: ["mean": 0.5]).imageMean, [0.5, 0.5, 0.5])
        // Absent fields: PreprocessCfg's defaults (shortest side, bicubic, OpenAI mean and std).
        XCTAssertEqual(CLIPImagePreprocessing.openCLIP(try config(size: 24, preprocess: [:])), .openCLIP(size: 24))
    }

    func testLongestSideRule() {
        // ratio = 37 / 24; 23 / ratio = 14.92 → 15.
        XCTAssert(CLIPImagePreprocessing.longestSideSize(width: 37, height: 23, size: 24) == (24, 15))
        // 41 → 24: 19 · 24 / 41 = 11.12 → 11.
        XCTAssert(CLIPImagePreprocessing.longestSideSize(width: 19, height: 41, size: 24) == (11, 24))
    }
}
