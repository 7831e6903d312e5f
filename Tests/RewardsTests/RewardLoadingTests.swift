import Checkpoints
import Engine
import Foundation
import Models
@testable import Rewards
import TestSupport
import XCTest

/// Checkpoint files: key clean-up, architecture checks, messages that name the file and what was expected.
final class RewardLoadingTests: XCTestCase {
    private typealias F = RewardFixtures

    private func message(_ body: () throws -> Void) -> String {
        do { try body() } catch { return "\(error)" }
        XCTFail("expected an error")
        return ""
    }

    func testKeyNormalisation() throws {
        XCTAssertEqual(StateDict.normalizedKey("module.visual.proj"), "visual.proj")
        XCTAssertEqual(StateDict.normalizedKey("state_dict.module.logit_scale"), "logit_scale")
        XCTAssertEqual(StateDict.normalizedKey("visual.module.x"), "visual.module.x")
        let dict = try StateDict(contentsOf: F.url("hps_tiny.safetensors"))
        XCTAssert(dict.contains("visual.conv1.weight"))
        XCTAssertFalse(dict.keys.contains { $0.hasPrefix("module.") })
        XCTAssertEqual(dict.shape("visual.conv1.weight"), [16, 3, 8, 8])
    }

    /// The HPS file alone holds every weight (DanceGRPO loads it strictly), so the open_clip file is optional.
    func testHPSFileAloneIsEnough() throws {
        let a = try HPSv21Reward(
            openCLIPCheckpoint: nil, hpsCheckpoint: F.url("hps_tiny.safetensors"),
            config: F.url("openclip_tiny.json"))
        assertClose(a.model.encodeImage(F.hpsPixels), F.tensor("openclip.B.image_features"), tolerance: 1e-4)
    }

    func testWrongSizeCheckpointNamesFileAndSizes() throws {
        let text = message {
            let (config, name) = try OpenCLIPLoading.config(at: F.url("openclip_wrong_size.json"))
            _ = try OpenCLIPLoading.model(
                config: config, configName: name, files: [F.url("open_clip_pytorch_model.safetensors")])
        }
        XCTAssert(
            text.hasPrefix(
                """
                open_clip_pytorch_model.safetensors: expected openclip_wrong_size key \
                visual.transformer.resblocks.2.ln_1.weight
                """
            ), text)
        XCTAssert(text.contains("found vision 2 blocks × width 16, patch 8; text 2 blocks × width 16"), text)
    }

    func testViTH14ExpectationNamesTheArchitectureFound() throws {
        let dict = try StateDict(contentsOf: F.url("open_clip_pytorch_model.safetensors"))
        let text = message { try OpenCLIPLoading.checkArchitecture(dict, config: .vitH14, configName: "ViT-H-14") }
        XCTAssert(
            text.contains(
                """
                expected ViT-H-14 key visual.transformer.resblocks.31.ln_1.weight (vision 32 blocks × width 1280, \
                patch 14; text 24 blocks × width 1024)
                """
            ), text)
        // A known architecture is named.
        XCTAssertEqual(OpenCLIPLoading.name(of: [24, 1024, 14, 12, 768]), "ViT-L-14")
    }

    func testTransformersFileGivenAsOpenCLIP() throws {
        let text = message {
            _ = try OpenCLIPLoading.model(
                config: OpenCLIPConfig.load(F.url("openclip_tiny.json")),
                files: [F.url("pickscore_tiny/model.safetensors")])
        }
        XCTAssert(text.contains("found a transformers CLIPModel"), text)
    }

    func testMissingFilesAreNamed() throws {
        let text = message {
            _ = try HPSv21Reward(
                openCLIPCheckpoint: nil, hpsCheckpoint: URL(fileURLWithPath: "/nonexistent/HPS_v2.1_compressed.pt"),
                config: F.url("openclip_tiny.json"))
        }
        XCTAssert(text.contains("/nonexistent/HPS_v2.1_compressed.pt: not found"), text)
        XCTAssert(text.contains("HPS_v2.1_compressed.pt and open_clip_pytorch_model.bin"), text)
        XCTAssertFalse(text.contains("bpe_simple_vocab"), text)
        // A vocabulary named explicitly must exist (the bundled one is the fallback only when none is named).
        let vocabulary = message {
            _ = try HPSv21Reward(
                openCLIPCheckpoint: nil, hpsCheckpoint: F.url("hps_tiny.safetensors"),
                config: F.url("openclip_tiny.json"),
                vocabulary: URL(fileURLWithPath: "/nonexistent/bpe_simple_vocab_16e6.txt.gz"))
        }
        XCTAssert(vocabulary.contains("/nonexistent/bpe_simple_vocab_16e6.txt.gz: not found"), vocabulary)
    }

    /// PyTorch files (`.pt` with `{'state_dict': {'module.…'}}`, `.bin`, `.pth`), read by the restricted unpickler,
    /// hold exactly the tensors of their safetensors twins.
    func testPickleCheckpoints() throws {
        for (pickle, twin) in [
            ("hps_tiny.pt", "hps_tiny.safetensors"),
            ("open_clip_pytorch_model.bin", "open_clip_pytorch_model.safetensors"),
            ("aesthetic_tiny.pth", "aesthetic_tiny.safetensors")
        ] {
            let dict = try StateDict(contentsOf: F.url(pickle))
            let reference = try StateDict(contentsOf: F.url(twin))
            XCTAssertEqual(dict.keys, reference.keys, pickle)
            for key in reference.keys {
                XCTAssertEqual(maxAbsDifference(try dict.tensor(key), try reference.tensor(key)), 0, key)
            }
        }
    }

    /// The seed's files as users download them: `HPS_v2.1_compressed.pt` over `open_clip_pytorch_model.bin`.
    func testHPSFromPyTorchFilesMatchesOpenCLIP() throws {
        let reward = try HPSv21Reward(
            openCLIPCheckpoint: F.url("open_clip_pytorch_model.bin"), hpsCheckpoint: F.url("hps_tiny.pt"),
            config: F.url("openclip_tiny.json"))
        assertClose(reward.model.encodeImage(F.hpsPixels), F.tensor("openclip.B.image_features"), tolerance: 1e-4)
    }

    func testAestheticHeadChecksItsInput() throws {
        let text = message { _ = try AestheticPredictor.load(F.url("aesthetic_tiny.safetensors"), inputDimension: 768) }
        XCTAssert(text.contains("aesthetic_tiny.safetensors: expected layers.0.weight with 768 inputs"), text)
        XCTAssert(text.contains("found 16 inputs"), text)
    }

    func testOpenCLIPConfigParsing() throws {
        let config = try OpenCLIPConfig.load(F.url("openclip_tiny.json"))
        XCTAssertEqual(config.vision.heads, 2)
        XCTAssertEqual(config.vision.mlpWidth, 64)
        XCTAssertEqual(config.text.contextLength, 77)
        XCTAssertFalse(config.quickGELU)
        let resnet: [String: Any] = [
            "embed_dim": 1024, "vision_cfg": ["layers": [3, 4, 6, 3]], "text_cfg": [:] as [String: Any]
        ]
        XCTAssertThrowsError(try OpenCLIPConfig.parse(resnet, file: "RN50.json")) { error in
            XCTAssert("\(error)".contains("ResNet"), "\(error)")
        }
    }
}

extension RewardLoadingTests {
    /// open_clip's CustomTextCLIP layout (`text.` prefix on the text tower) loads into the same model.
    func testCustomTextLayout() throws {
        let folder = try temporaryDirectory(self)
        let source = try StateDict(contentsOf: F.url("open_clip_pytorch_model.safetensors"))
        var renamed: [String: Tensor] = [:]
        for key in source.keys {
            renamed[key.hasPrefix("visual.") || key == "logit_scale" ? key : "text." + key] = try source.tensor(key)
        }
        let file = folder.appendingPathComponent("custom_text.safetensors")
        try SafeTensors.save(renamed, to: file)
        let model = try OpenCLIPLoading.model(config: OpenCLIPConfig.load(F.url("openclip_tiny.json")), files: [file])
        assertClose(
            model.encodeText(F.tensor("openclip.text_ids")), F.tensor("openclip.A.text_features"), tolerance: 1e-4)
    }
}
