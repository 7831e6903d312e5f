import Engine
import Foundation
import Imaging
import Models
import NN
@testable import Rewards
import TestSupport
import Tokenizers
import XCTest

/// Parity of the reward models with open_clip and transformers on tiny random configs (tools/goldens/rewards.py):
/// features, logits and scores within 1e-4 (fp32 here, float64 reference).
final class RewardModelsTests: XCTestCase {
    private typealias F = RewardFixtures

    private func openCLIP(_ config: String, weights: [String]) throws -> OpenCLIPModel {
        let (c, name) = try OpenCLIPLoading.config(at: F.url(config))
        return try OpenCLIPLoading.model(config: c, configName: name, files: weights.map(F.url))
    }

    private func checkOpenCLIP(_ model: OpenCLIPModel, tag: String) {
        let image = model.encodeImage(F.hpsPixels)
        let text = model.encodeText(F.tensor("openclip.text_ids"))
        assertClose(image, F.tensor("openclip.\(tag).image_features"), tolerance: 1e-4, "\(tag) image features")
        assertClose(text, F.tensor("openclip.\(tag).text_features"), tolerance: 1e-4, "\(tag) text features")
        let logits = model.logitScale.exp() * l2Normalized(image).matmul(l2Normalized(text).T)
        assertClose(logits, F.tensor("openclip.\(tag).logits"), tolerance: 1e-4, "\(tag) logits")
        print(
            "open_clip \(tag) parity: image \(maxAbsDifference(image, F.tensor("openclip.\(tag).image_features"))), "
                + "text \(maxAbsDifference(text, F.tensor("openclip.\(tag).text_features"))), "
                + "logits \(maxAbsDifference(logits, F.tensor("openclip.\(tag).logits")))")
    }

    func testOpenCLIPMatchesReference() throws {
        let model = try openCLIP("openclip_tiny.json", weights: ["open_clip_pytorch_model.safetensors"])
        XCTAssertEqual(model.config.activation, .gelu)
        XCTAssertEqual(
            Set(model.parameters().keys),
            Set(try StateDict(contentsOf: F.url("open_clip_pytorch_model.safetensors")).keys))
        checkOpenCLIP(model, tag: "A")
    }

    func testQuickGELUFlag() throws {
        let model = try openCLIP("openclip_tiny_quickgelu.json", weights: ["hps_tiny.safetensors"])
        XCTAssertEqual(model.config.activation, .quickGelu)
        checkOpenCLIP(model, tag: "B_quickgelu")
    }

    /// The HPS file (keys `module.…`) overrides the open_clip weights; scoring runs from PNG files through the
    /// seed's preprocessing to the diagonal of the normalised features.
    func testHPSRewardMatchesSeedScore() throws {
        let loaded = try HPSv21Reward(
            openCLIPCheckpoint: F.url("open_clip_pytorch_model.safetensors"),
            hpsCheckpoint: F.url("hps_tiny.safetensors"), config: F.url("openclip_tiny.json"))
        checkOpenCLIP(loaded.model, tag: "B")
        XCTAssertEqual(loaded.preprocessing, .hpsv2(size: 48))
        // The tiny model's vocabulary is flux_mini's, so the reward is rebuilt around it with open_clip's clean-up.
        let reward = HPSv21Reward(model: loaded.model, tokenizer: try F.tokenizer(cleaning: .openCLIP))
        reward.batchSize = 2  // two batches for three images
        let images = Array(try F.images().prefix(3))
        let scores = try reward.scores(images: images, prompts: F.prompts)
        assertClose(Tensor(scores.map(Float.init)), F.tensor("hps.scores"), tolerance: 1e-4, "HPS scores")
        print("HPS scores \(scores) vs \(F.tensor("hps.scores").toArray(Float.self))")
        // Batch composition does not change a score; a repeated prompt is encoded once.
        reward.batchSize = 8
        let same = try reward.scores(images: [images[1], images[1]], prompts: [F.prompts[1], F.prompts[1]])
        XCTAssertEqual(same[0], scores[1], accuracy: 1e-5)
        XCTAssertEqual(same[1], scores[1], accuracy: 1e-5)
        XCTAssertThrowsError(try reward.scores(images: images, prompts: [F.prompts[0]]))
    }

    func testPickScoreMatchesTransformers() throws {
        let reward = try PickScoreReward(folder: F.url("pickscore_tiny"))
        XCTAssertEqual(reward.preprocessing, .clipProcessor(size: 48))
        let model = reward.model
        let ids = F.tensor("clip.input_ids"), mask = F.tensor("clip.attention_mask")
        let tokenized = try F.tokenizer()(F.prompts, padding: .longest)
        XCTAssertEqual(tokenized.ids.flatMap { $0 }.map(Int32.init), ids.toArray(Int32.self))
        let image = model.imageFeatures(F.clipPixels)
        let text = model.textFeatures(ids, attentionMask: mask)
        assertClose(image, F.tensor("clip.image_embeds"), tolerance: 1e-4, "image embeds")
        assertClose(text, F.tensor("clip.text_embeds"), tolerance: 1e-4, "text embeds")
        let logits = model.logitScale.exp() * l2Normalized(image).matmul(l2Normalized(text).T)
        assertClose(logits, F.tensor("clip.logits_per_image"), tolerance: 1e-4, "logits")
        let scores = try reward.scores(images: Array(try F.images().prefix(3)), prompts: F.prompts)
        assertClose(Tensor(scores.map(Float.init)), F.tensor("pickscore.scores"), tolerance: 1e-4, "PickScore")
        print(
            "CLIPModel parity: image \(maxAbsDifference(image, F.tensor("clip.image_embeds"))), text "
                + "\(maxAbsDifference(text, F.tensor("clip.text_embeds"))), scores \(scores)")
    }

    func testCLIPScoreOnTransformersFolder() throws {
        let reward = try CLIPScoreReward(folder: F.url("pickscore_tiny"))
        let scores = try reward.scores(images: Array(try F.images().prefix(3)), prompts: F.prompts)
        assertClose(Tensor(scores.map(Float.init)), F.tensor("pickscore.scores"), tolerance: 1e-4, "CLIP score")
    }

    /// An open_clip Hub folder (`open_clip_config.json` with `model_cfg` and `preprocess_cfg`).
    func testCLIPScoreOnOpenCLIPFolder() throws {
        let folder = try temporaryDirectory(self)
        let modelConfig = try JSONSerialization.jsonObject(with: Data(contentsOf: F.url("openclip_tiny.json")))
        let hub: [String: Any] = [
            "model_cfg": modelConfig,
            "preprocess_cfg": ["mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "resize_mode": "shortest"]
        ]
        try JSONSerialization.data(withJSONObject: hub).write(
            to: folder.appendingPathComponent("open_clip_config.json"))
        try FileManager.default.copyItem(
            at: F.url("open_clip_pytorch_model.safetensors"),
            to: folder.appendingPathComponent("open_clip_model.safetensors"))
        for name in ["vocab.json", "merges.txt", "tokenizer_config.json"] {
            try FileManager.default.copyItem(
                at: Fixture.url("flux_mini/tokenizer/\(name)"), to: folder.appendingPathComponent(name))
        }
        let reward = try CLIPScoreReward(folder: folder)
        XCTAssertEqual(reward.preprocessing, .openCLIP(size: 48, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5]))
        let images = Array(try F.images().prefix(3))
        let scores = try reward.scores(images: images, prompts: F.prompts)
        // The same model scored through the HPS reward with the same preprocessing gives the same numbers.
        let model = try OpenCLIPLoading.model(
            config: OpenCLIPConfig.load(F.url("openclip_tiny.json")),
            files: [F.url("open_clip_pytorch_model.safetensors")])
        let reference = HPSv21Reward(
            model: model, tokenizer: try F.tokenizer(cleaning: .openCLIP), preprocessing: reward.preprocessing)
        let expected = try reference.scores(images: images, prompts: F.prompts)
        XCTAssertEqual(scores.map(Float.init), expected.map(Float.init), accuracy: 1e-6)
    }

    func testAestheticMatchesDDPO() throws {
        let reward = try AestheticReward(
            clipFolder: F.url("pickscore_tiny"), mlpCheckpoint: F.url("aesthetic_tiny.safetensors"))
        let images = try F.images()
        let embeddings = reward.embeddings(images)
        assertClose(embeddings, F.tensor("aesthetic.embeddings"), tolerance: 1e-4, "normalised embeddings")
        let direct = reward.head(F.tensor("aesthetic.embeddings"))
        assertClose(direct, F.tensor("aesthetic.scores"), tolerance: 1e-4, "MLP on the reference embeddings")
        let scores = try reward.scores(images: images, prompts: [])
        assertClose(Tensor(scores.map(Float.init)), F.tensor("aesthetic.scores"), tolerance: 1e-4, "aesthetic scores")
        // Linear, Dropout, Linear, Dropout, Linear, Dropout, Linear, Linear
        XCTAssertEqual(reward.head.layers.count, 8)
    }
}
