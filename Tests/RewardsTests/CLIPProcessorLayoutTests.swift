import Engine
import Foundation
import Models
@testable import Rewards
import TestSupport
import Tokenizers
import XCTest

/// A CLIP-family reward folder reads the same in the layout transformers 4 writes (`preprocessor_config.json`,
/// `vocab.json` + `merges.txt`) and the one transformers 5 writes (`processor_config.json` with the image processor
/// nested, `tokenizer.json` alone); settings a file leaves out take CLIP's defaults, each with a warning. The folders
/// and goldens come from tools/goldens/clip_processor_layouts.py, run under each major version.
final class CLIPProcessorLayoutTests: XCTestCase {
    private struct Golden: Decodable {
        let prompts: [String]
        let input_ids: [[Int]]
        let attention_mask: [[Int]]
        let pixel_values: [Double]
    }

    private static let layouts = ["transformers4", "transformers5"]
    /// The text tower the fixture tokenizer feeds (flux_mini's 571-token BPE, CLIP's 77 positions).
    private static var textConfig: CLIPTextConfig {
        var config = CLIPTextConfig()
        config.vocabSize = 571
        config.eosTokenId = 570
        return config
    }

    private func folder(_ layout: String) -> URL { RewardFixtures.url("clip_processor_layouts/\(layout)") }

    private func golden(_ layout: String) throws -> Golden {
        let data = try Data(contentsOf: RewardFixtures.url("clip_processor_layouts/\(layout).json"))
        return try JSONDecoder().decode(Golden.self, from: data)
    }

    func testEachLayoutMatchesTheProcessorThatWroteIt() throws {
        let image = try RewardFixtures.image("odd")
        for layout in Self.layouts {
            let golden = try golden(layout)
            let (loaded, warnings) = try LoadWarnings.collecting { () -> (CLIPImagePreprocessing, CLIPTokenizer) in
                (
                    try RewardFiles.clipProcessor(in: [folder(layout)], imageSize: 16),
                    try RewardFiles.transformersTokenizer(in: folder(layout), model: Self.textConfig)
                )
            }
            XCTAssertEqual(warnings, [], layout)
            let (preprocessing, tokenizer) = loaded
            XCTAssertEqual(preprocessing.mean, [0.45, 0.42, 0.4], layout)
            XCTAssertEqual(preprocessing.std, [0.27, 0.25, 0.28], layout)
            let pixels = preprocessing.pixelValues(image)
            XCTAssertEqual(pixels.count, golden.pixel_values.count, layout)
            let worst = zip(pixels, golden.pixel_values).map { abs(Double($0) - $1) }.max() ?? .infinity
            XCTAssertLessThan(worst, 1e-5, layout)
            let batch = tokenizer(golden.prompts, padding: .longest)
            XCTAssertEqual(batch.ids, golden.input_ids, layout)
            XCTAssertEqual(batch.attentionMask, golden.attention_mask, layout)
        }
    }

    func testBothLayoutsGiveTheSamePreprocessingAndTokens() throws {
        let loaded = try Self.layouts.map { layout in
            (
                try RewardFiles.clipProcessor(in: [folder(layout)], imageSize: 16),
                try RewardFiles.transformersTokenizer(in: folder(layout), model: Self.textConfig)
            )
        }
        XCTAssertEqual(loaded[0].0, loaded[1].0)
        let prompts = ["a red fox", "Two blue cubes, on a table!", "<|endoftext|> !!"]
        XCTAssertEqual(loaded[0].1(prompts).ids, loaded[1].1(prompts).ids)
        XCTAssertEqual(loaded[0].1.tokenIDRange, loaded[1].1.tokenIDRange)
    }

    /// Copies a layout's folder and removes `keys` from its image processor settings.
    private func copy(_ layout: String, removing keys: [String]) throws -> URL {
        let target = try temporaryDirectory(self).appendingPathComponent(layout)
        try FileManager.default.copyItem(at: folder(layout), to: target)
        let name = layout == "transformers4" ? "preprocessor_config.json" : "processor_config.json"
        let file = target.appendingPathComponent(name)
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any])
        if var nested = object["image_processor"] as? [String: Any] {
            for key in keys { nested[key] = nil }
            object["image_processor"] = nested
        } else {
            for key in keys { object[key] = nil }
        }
        try JSONSerialization.data(withJSONObject: object).write(to: file)
        return target
    }

    func testAMissingMeanAndStdWarnNamingTheFileKeyAndDefault() throws {
        for (layout, prefix) in [("transformers4", ""), ("transformers5", "image_processor.")] {
            let target = try copy(layout, removing: ["image_mean", "image_std"])
            let (preprocessing, warnings) = try LoadWarnings.collecting {
                try RewardFiles.clipProcessor(in: [target], imageSize: 16)
            }
            XCTAssertEqual(preprocessing.mean, CLIPImagePreprocessing.openAIMean)
            XCTAssertEqual(preprocessing.std, CLIPImagePreprocessing.openAIStd)
            let file =
                target.appendingPathComponent(
                    layout == "transformers4" ? "preprocessor_config.json" : "processor_config.json"
                ).path
            XCTAssertEqual(
                warnings.map(\.description),
                [
                    "\(file): \(prefix)image_mean missing; using the default [0.48145467, 0.4578275, 0.40821072]",
                    "\(file): \(prefix)image_std missing; using the default [0.26862955, 0.2613026, 0.2757771]"
                ])
        }
    }

    func testAMissingCropSizeWarnsAndTakesTheResizeSize() throws {
        let target = try copy("transformers5", removing: ["crop_size"])
        let (preprocessing, warnings) = try LoadWarnings.collecting {
            try RewardFiles.clipProcessor(in: [target], imageSize: 16)
        }
        XCTAssertEqual(preprocessing.size, 16)
        XCTAssertEqual(warnings.map(\.key), ["image_processor.crop_size"])
        XCTAssertEqual(warnings.first?.value, "16")
    }

    func testAFolderWithoutAProcessorFileWarnsOnce() throws {
        let empty = try temporaryDirectory(self)
        let (preprocessing, warnings) = try LoadWarnings.collecting {
            try RewardFiles.clipProcessor(in: [empty], imageSize: 16)
        }
        XCTAssertEqual(preprocessing, .clipProcessor(size: 16))
        XCTAssertEqual(warnings.count, 1)
        XCTAssertEqual(warnings.first?.file, empty.appendingPathComponent("preprocessor_config.json").path)
    }

    func testATransformers5ProcessorWithoutTheNestedImageProcessorIsRefused() throws {
        let target = try temporaryDirectory(self)
        try Data(#"{"processor_class": "CLIPProcessor"}"#.utf8).write(
            to: target.appendingPathComponent("processor_config.json"))
        XCTAssertThrowsError(try RewardFiles.clipProcessor(in: [target], imageSize: 16)) { error in
            XCTAssertEqual(
                error as? RewardError,
                .unsupportedFormat(
                    file: target.appendingPathComponent("processor_config.json").path,
                    reason: "expected the image processor's settings under \"image_processor\""))
        }
    }

    func testATokenizerWithIdsPastTheTextModelIsRefusedNamingBothFiles() throws {
        var small = Self.textConfig
        small.vocabSize = 500
        small.eosTokenId = 2
        let folder = folder("transformers5")
        XCTAssertThrowsError(try RewardFiles.transformersTokenizer(in: folder, model: small)) { error in
            XCTAssertEqual(
                error as? ModelConfigError,
                .tokenizerMismatch(
                    tokenizer: folder.path, model: folder.appendingPathComponent("config.json").path,
                    problems: [
                        "token ids: expected ids below vocab_size 500 (the embedding table), found ids up to 570"
                    ]))
        }
    }

    /// pickscore_tiny in the layout transformers 5 saves: the model files, `processor_config.json` with its image
    /// processor nested (the shape the transformers5 fixture shows the library writes) and the tokenizer as
    /// `tokenizer.json` (the same BPE, written by transformers 5). It scores as the transformers 4 folder does, and as
    /// transformers computed, without a warning.
    func testPickScoreInTheTransformers5LayoutScoresAsTransformers() throws {
        let original = RewardFixtures.url("pickscore_tiny")
        let folder = try temporaryDirectory(self)
        for name in ["config.json", "model.safetensors"] {
            try FileManager.default.copyItem(
                at: original.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
        let settings = try JSONSerialization.jsonObject(
            with: Data(contentsOf: original.appendingPathComponent("preprocessor_config.json")))
        try JSONSerialization.data(withJSONObject: ["image_processor": settings, "processor_class": "CLIPProcessor"])
            .write(to: folder.appendingPathComponent("processor_config.json"))
        for name in ["tokenizer.json", "tokenizer_config.json"] {
            try FileManager.default.copyItem(
                at: self.folder("transformers5").appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
        let (reward, warnings) = try LoadWarnings.collecting { try PickScoreReward(folder: folder) }
        XCTAssertEqual(warnings, [])
        XCTAssertEqual(reward.preprocessing, try PickScoreReward(folder: original).preprocessing)
        let scores = try reward.scores(
            images: Array(try RewardFixtures.images().prefix(3)), prompts: RewardFixtures.prompts)
        let expected = RewardFixtures.tensor("pickscore.scores").toArray(Float.self)
        XCTAssertEqual(scores.count, expected.count)
        for (score, reference) in zip(scores, expected) { XCTAssertEqual(score, Double(reference), accuracy: 1e-4) }
    }
}
