import Foundation
import Models
@testable import Rewards
import TestSupport
import Tokenizers
import XCTest

final class RewardRegistryTests: XCTestCase {
    func testParseKeepsOrderAndWeights() throws {
        XCTAssertEqual(
            try RewardRegistry.parse("hpsv2.1,pickscore:0.5"),
            [RewardSpec(name: "hpsv2.1", weight: 1), RewardSpec(name: "pickscore", weight: 0.5)])
        XCTAssertEqual(
            try RewardRegistry.parse(" clip-score:1.4 , hpsv2.1:0.7 ,aesthetic"),
            [
                RewardSpec(name: "clip-score", weight: 1.4), RewardSpec(name: "hpsv2.1", weight: 0.7),
                RewardSpec(name: "aesthetic")
            ])
        XCTAssertEqual(try RewardRegistry.parse("PickScore:-2e-1").first, RewardSpec(name: "pickscore", weight: -0.2))
    }

    func testParseErrors() {
        for (text, fragment) in [
            ("hps", "unknown reward 'hps'"), ("hpsv2.1,hpsv2.1:2", "listed twice"),
            ("pickscore:abc", "not a finite number"),
            ("", "empty entry"), ("hpsv2.1,", "empty entry"), ("aesthetic:inf", "not a finite number")
        ] {
            XCTAssertThrowsError(try RewardRegistry.parse(text), text) { error in
                XCTAssert("\(error)".contains(fragment), "\(text): \(error)")
            }
        }
    }

    /// The factory finds DanceGRPO's layout under the reward folder (`hps_ckpt/…`).
    func testFactoryFindsSeedLayout() throws {
        let root = try temporaryDirectory(self)
        let hps = root.appendingPathComponent("hps_ckpt")
        try FileManager.default.createDirectory(at: hps, withIntermediateDirectories: true)
        let copies = [
            ("rewards/hps_tiny.safetensors", "HPS_v2.1_compressed.safetensors"),
            ("rewards/open_clip_pytorch_model.safetensors", "open_clip_pytorch_model.safetensors"),
            ("rewards/openclip_tiny.json", "ViT-H-14.json")
        ]
        for (source, name) in copies {
            try FileManager.default.copyItem(at: Fixture.url(source), to: hps.appendingPathComponent(name))
        }
        var locations = RewardLocations(directory: root)
        let model = try RewardRegistry.makeModel("hpsv2.1", locations: locations)
        XCTAssertEqual(model.name, "hpsv2.1")
        XCTAssertEqual((model as? HPSv21Reward)?.model.config.vision.imageSize, 48)

        locations.pickScoreModel = RewardFixtures.url("pickscore_tiny")
        XCTAssertEqual(try RewardRegistry.makeModel("pickscore", locations: locations).name, "pickscore")
        XCTAssertThrowsError(try RewardRegistry.makeModel("aesthetic", locations: locations)) { error in
            XCTAssert("\(error)".contains("sac+logos+ava1-l14-linearMSE.safetensors: not found"), "\(error)")
        }
    }
}

extension RewardRegistryTests {
    /// A `--reward` list reaches the scores in its order with its weights.
    func testRewardSetKeepsOrderAndWeights() throws {
        var locations = RewardLocations(directory: try temporaryDirectory(self))
        locations.pickScoreModel = RewardFixtures.url("pickscore_tiny")
        locations.aestheticCLIPModel = RewardFixtures.url("pickscore_tiny")
        locations.aestheticMLP = RewardFixtures.url("aesthetic_tiny.safetensors")
        let set = try RewardSet(specification: "aesthetic:0.25,pickscore:2", locations: locations)
        XCTAssertEqual(
            set.specs, [RewardSpec(name: "aesthetic", weight: 0.25), RewardSpec(name: "pickscore", weight: 2)])
        let images = Array(try RewardFixtures.images().prefix(3))
        let rows = try set.scores(images: images, prompts: RewardFixtures.prompts)
        XCTAssertEqual(rows.map(\.spec.name), ["aesthetic", "pickscore"])
        let aesthetic = RewardFixtures.tensor("aesthetic.scores").toArray(Float.self)
        let pick = RewardFixtures.tensor("pickscore.scores").toArray(Float.self)
        XCTAssertEqual(rows[0].scores.map(Float.init), Array(aesthetic.prefix(3)), accuracy: 1e-4)
        XCTAssertEqual(rows[1].scores.map(Float.init), pick, accuracy: 1e-4)
        let total = RewardSet.weightedSum(rows)
        for i in 0..<3 { XCTAssertEqual(total[i], 0.25 * Double(aesthetic[i]) + 2 * Double(pick[i]), accuracy: 1e-4) }
    }
}

extension RewardRegistryTests {
    /// DanceGRPO's README has users download two files into `hps_ckpt/`: `HPS_v2.1_compressed.pt` and
    /// `open_clip_pytorch_model.bin`. That folder (here the tiny fixtures under those names, the config given as with
    /// `--hps-config`) is enough: open_clip's vocabulary comes bundled.
    func testHPSFromTheTwoDownloadedFiles() throws {
        let root = try temporaryDirectory(self)
        let hps = root.appendingPathComponent("hps_ckpt")
        try FileManager.default.createDirectory(at: hps, withIntermediateDirectories: true)
        let downloads = [
            ("hps_tiny.pt", "HPS_v2.1_compressed.pt"),
            ("open_clip_pytorch_model.bin", "open_clip_pytorch_model.bin")
        ]
        for (source, name) in downloads {
            try FileManager.default.copyItem(at: RewardFixtures.url(source), to: hps.appendingPathComponent(name))
        }
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: hps.path).sorted(),
            ["HPS_v2.1_compressed.pt", "open_clip_pytorch_model.bin"])
        var locations = RewardLocations(directory: root)
        locations.hpsConfig = RewardFixtures.url("openclip_tiny.json")
        let reward = try XCTUnwrap(try RewardRegistry.makeModel("hpsv2.1", locations: locations) as? HPSv21Reward)
        assertClose(
            reward.model.encodeImage(RewardFixtures.hpsPixels),
            RewardFixtures.tensor("openclip.B.image_features"), tolerance: 1e-4)
        // The bundled vocabulary: open_clip's 49,408 tokens. The tiny model's own text tower has 571, so the
        // tokenizer is refused when text is first scored, naming the vocabulary and the config (the image side above
        // is the model's).
        let vocabulary = try XCTUnwrap(CLIPTokenizer.bundledOpenCLIPVocabulary)
        XCTAssertThrowsError(try reward.encoders.tokenizer.get()) { error in
            XCTAssertEqual(
                error as? ModelConfigError,
                .tokenizerMismatch(
                    tokenizer: vocabulary.path, model: RewardFixtures.url("openclip_tiny.json").path,
                    problems: [
                        "token ids: expected ids below vocab_size 571 (the embedding table), found ids up to 49407"
                    ]))
        }
        XCTAssertThrowsError(
            try reward.scores(
                images: [try RewardFixtures.image(RewardFixtures.imageNames[0])],
                prompts: ["a cat"])
        ) { error in
            XCTAssert("\(error)".contains("found ids up to 49407"), "\(error)")
        }
        let tokenizer = try CLIPTokenizer(openCLIPVocabulary: vocabulary)
        XCTAssertEqual(tokenizer.vocabularySize, 49408)
        XCTAssertEqual(tokenizer.encode("a photo of a cat"), [49406, 320, 1125, 539, 320, 2368, 49407])

        // A vocabulary in the folder still wins over the bundled one (here a broken one, to tell them apart).
        let own = hps.appendingPathComponent("bpe_simple_vocab_16e6.txt.gz")
        try Data("not a vocabulary\n".utf8).write(to: own)
        let withOwn = try XCTUnwrap(try RewardRegistry.makeModel("hpsv2.1", locations: locations) as? HPSv21Reward)
        XCTAssertThrowsError(try withOwn.encoders.tokenizer.get()) { error in
            XCTAssert("\(error)".contains(own.path), "\(error)")
        }
    }

    /// Without the HPS file, the message names the two files to download and nothing else.
    func testMissingHPSNamesTheTwoFiles() throws {
        let root = try temporaryDirectory(self)
        let locations = RewardLocations(directory: root)
        XCTAssertThrowsError(try RewardRegistry.makeModel("hpsv2.1", locations: locations)) { error in
            let text = "\(error)"
            XCTAssert(text.contains("hps_ckpt/HPS_v2.1_compressed.pt: not found"), text)
            XCTAssert(text.contains("HPS_v2.1_compressed.pt and open_clip_pytorch_model.bin"), text)
            XCTAssertFalse(text.contains("bpe_simple_vocab"), text)
            XCTAssertFalse(text.contains("safetensors"), text)
        }
    }
}
