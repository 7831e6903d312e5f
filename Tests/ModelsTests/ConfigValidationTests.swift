import Checkpoints
import Engine
import Foundation
import Models
import XCTest

/// Every config's numbers are checked before a tensor is built; all problems of a file come in one error naming the
/// file, the keys, and expected vs found.
final class ConfigValidationTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("config-checks-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    private func write(_ object: [String: Any]) throws -> URL {
        let file = folder.appendingPathComponent("config.json")
        try JSONSerialization.data(withJSONObject: object).write(to: file)
        return file
    }

    /// The problems `load` reports for `object`, after checking that the error names the file.
    private func problems(
        _ object: [String: Any], file: StaticString = #filePath, line: UInt = #line, _ load: (URL) throws -> Void
    ) throws -> [String] {
        let url = try write(object)
        do {
            try load(folder)
            XCTFail("expected the config to be refused", file: file, line: line)
        } catch let error as ModelConfigError {
            guard case .invalidValues(let named, let problems) = error else {
                XCTFail("expected invalidValues, got \(error)", file: file, line: line)
                return []
            }
            XCTAssertEqual(named, url.path, file: file, line: line)
            XCTAssertTrue(error.description.hasPrefix(url.path + ": "), error.description, file: file, line: line)
            return problems
        }
        return []
    }

    func testFluxRopeAxesMustSumToTheHeadDimensionAndAllProblemsComeAtOnce() throws {
        let found = try problems(
            [
                "attention_head_dim": 16, "num_attention_heads": -2, "axes_dims_rope": [4, 6, 4], "in_channels": 0,
                "num_layers": 1, "num_single_layers": 1, "joint_attention_dim": 8, "pooled_projection_dim": 8
            ]
        ) { _ = try FluxConfig.load($0) }
        XCTAssertEqual(
            found,
            [
                "in_channels: expected a positive size up to 16777216, found 0",
                "num_attention_heads: expected a positive size up to 4096, found -2",
                "axes_dims_rope: expected entries summing to attention_head_dim 16, found sum 14"
            ])
    }

    func testFluxRopeAxesMustBeThreeEvenEntries() throws {
        let found = try problems(["attention_head_dim": 8, "axes_dims_rope": [3, 5]]) { _ = try FluxConfig.load($0) }
        XCTAssertEqual(
            found,
            [
                "axes_dims_rope: expected 3 entries (one per position id column), found [3, 5]",
                "axes_dims_rope[0]: expected a positive even number, found 3",
                "axes_dims_rope[1]: expected a positive even number, found 5"
            ])
    }

    func testCLIPTextHeadsMustDivideTheWidthAndEOSMustBeInTheVocabulary() throws {
        let found = try problems(
            [
                "hidden_size": 30, "num_attention_heads": 4, "vocab_size": 100, "eos_token_id": 100,
                "max_position_embeddings": 0, "layer_norm_eps": -1
            ]
        ) { _ = try CLIPTextConfig.load($0) }
        XCTAssertEqual(
            found,
            [
                "hidden_size: expected a multiple of num_attention_heads 4, found 30",
                "max_position_embeddings: expected a positive size up to 16777216, found 0",
                "layer_norm_eps: expected a positive finite number, found -1.0",
                "eos_token_id: expected an id in 0..<vocab_size 100, found 100"
            ])
    }

    func testCLIPModelTowersAreNamedByTheirKeys() throws {
        let found = try problems(
            [
                "projection_dim": 0,
                "text_config": ["hidden_size": 8, "num_attention_heads": 3, "vocab_size": 10, "eos_token_id": 2],
                "vision_config": ["image_size": 30, "patch_size": 8, "hidden_size": 8, "num_attention_heads": 2]
            ]
        ) { _ = try CLIPConfig.load($0) }
        XCTAssertEqual(
            found,
            [
                "projection_dim: expected a positive size up to 16777216, found 0",
                "text_config.hidden_size: expected a multiple of num_attention_heads 3, found 8",
                "vision_config.image_size: expected a multiple of patch_size 8, found 30"
            ])
    }

    func testT5SizesMustBePositive() throws {
        let found = try problems(["d_model": 0, "num_heads": 0, "vocab_size": 32]) { _ = try T5Config.load($0) }
        XCTAssertEqual(
            found,
            [
                "d_model: expected a positive size up to 16777216, found 0",
                "num_heads: expected a positive size up to 4096, found 0"
            ])
    }

    func testUNetNormGroupsMustDivideTheChannelsAndSizesMustBePositive() throws {
        let found = try problems(
            [
                "block_out_channels": [32, 48], "norm_num_groups": 32, "layers_per_block": 1,
                "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
                "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"], "attention_head_dim": 8,
                "cross_attention_dim": -4
            ]
        ) { _ = try UNet2DConditionConfig.load($0) }
        XCTAssertEqual(
            found,
            [
                "cross_attention_dim[0]: expected a positive size up to 16777216, found -4",
                "cross_attention_dim[1]: expected a positive size up to 16777216, found -4",
                "block_out_channels entry 48 does not split into norm_num_groups 32"
            ])
    }

    func testAutoencoderChannelListsMustBePositive() throws {
        let found = try problems(
            [
                "block_out_channels": [32, -32], "norm_num_groups": 32, "latent_channels": 0,
                "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"],
                "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"]
            ]
        ) { _ = try AutoencoderKLConfig.load($0) }
        XCTAssertEqual(
            found,
            [
                "block_out_channels[1]: expected a positive size up to 16777216, found -32",
                "latent_channels: expected a positive size up to 4096, found 0"
            ])
    }

    func testOpenCLIPWidthsMustSplitIntoHeads() throws {
        let found = try problems(
            [
                "embed_dim": 8,
                "vision_cfg": ["image_size": 32, "patch_size": 8, "layers": 1, "width": 12, "head_width": 8],
                "text_cfg": ["context_length": 0, "vocab_size": 10, "width": 8, "heads": 3, "layers": 1, "pad_id": 10]
            ]
        ) { _ = try OpenCLIPConfig.load($0.appendingPathComponent("config.json")) }
        XCTAssertEqual(
            found,
            [
                "vision_cfg.width: expected a multiple of head_width 8, found 12",
                "text_cfg.context_length: expected a positive size up to 16777216, found 0",
                "text_cfg.width: expected a multiple of heads 3, found 8",
                "text_cfg.pad_id: expected an id in 0..<vocab_size 10, found 10"
            ])
    }

    /// A model folder whose config cannot build the model throws from `load(from:)`; nothing is built.
    func testAModelFromABadConfigThrows() throws {
        _ = try write(["attention_head_dim": 8, "axes_dims_rope": [2, 2, 2], "num_attention_heads": 2])
        XCTAssertThrowsError(try FluxTransformer2DModel.load(from: folder)) { error in
            XCTAssertEqual(
                (error as? ModelConfigError)?.problems,
                ["axes_dims_rope: expected entries summing to attention_head_dim 8, found sum 6"], "\(error)")
        }
    }
}
