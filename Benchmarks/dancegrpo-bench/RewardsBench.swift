import Engine
import Foundation
import Imaging
import Models
import Rewards
import Tokenizers

/// `dancegrpo-bench rewards [--images N] [--batch B] [--size S] [--vocabulary FILE]`: scoring throughput of an
/// open_clip reward (the HPS-v2.1 path: seed preprocessing, image and text towers, cosine) on a ViT-B-32-sized
/// model with random weights, from decoded `S × S` images to scores; compare with tools/bench/rewards_bench.py
/// (open_clip + torchvision on the same machine). Every image has its own prompt (no text-encoding reuse).
///
/// Measured 2026-12-01 on the project's shared 2-core machine (release build, load average ≈ 5.5 from other work, so
/// noisy), 16 images of 720×720, batch 8, median of 3: Swift 2.04 images/s (preprocessing 13 ms/image) vs torch
/// 2.15 + open_clip 3.3.0 1.30 images/s (preprocessing 73 ms/image, 2 threads). A first run under load ≈ 12 gave
/// 1.00 vs 1.17.
enum RewardsBench {
    static let mode = "rewards"

    /// open_clip's `model_configs/ViT-B-32.json`.
    static let vitB32 = """
        {"embed_dim": 512, "vision_cfg": {"image_size": 224, "layers": 12, "width": 768, "patch_size": 32},
         "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 512, "heads": 8, "layers": 12}}
        """

    static func run(_ arguments: [String]) -> Int32? {
        guard arguments.count >= 2, arguments[1] == mode else { return nil }
        var images = 32, batch = 8, size = 720, repeats = 3
        var vocabulary = CLIPTokenizer.bundledOpenCLIPVocabulary?.path ?? CLIPTokenizer.openCLIPVocabularyFileName
        var rest = arguments.dropFirst(2)
        while let flag = rest.popFirst() {
            guard let value = rest.popFirst() else { print("\(flag) needs a value"); return 2 }
            switch flag {
            case "--images": images = Int(value) ?? images
            case "--batch": batch = Int(value) ?? batch
            case "--size": size = Int(value) ?? size
            case "--repeats": repeats = Int(value) ?? repeats
            case "--vocabulary": vocabulary = value
            default: print("unknown argument \(flag)"); return 2
            }
        }
        do {
            let object = try JSONSerialization.jsonObject(with: Data(vitB32.utf8)) as! [String: Any]
            let config = try OpenCLIPConfig.parse(object, file: "ViT-B-32.json")
            let model = OpenCLIPModel(config)
            model.train(false)
            let tokenizer = try CLIPTokenizer(openCLIPVocabulary: URL(fileURLWithPath: vocabulary))
            let reward = HPSv21Reward(model: model, tokenizer: tokenizer)
            reward.batchSize = batch
            var generator = SystemRandomNumberGenerator()
            let inputs = (0..<images).map { _ in
                try! RGBImage(
                    width: size, height: size,
                    pixels: (0..<size * size * 3).map { _ in UInt8.random(in: 0...255, using: &generator) })
            }
            let prompts = (0..<images).map { "a photo of object number \($0) on a table" }
            // Preprocessing alone, then the whole scoring.
            let preprocessing = medianSeconds(warmup: 1, repeats: repeats) { _ = reward.preprocessing.batch(inputs) }
            let total = medianSeconds(warmup: 1, repeats: repeats) {
                _ = try! reward.scores(images: inputs, prompts: prompts)
            }
            print(
                String(
                    format:
                        """
                        swift open_clip ViT-B-32 (HPS path), %d images %d×%d, batch %d: %.2f images/s (preprocessing \
                        %.1f ms/image, total %.1f ms/image)
                        """,
                    images, size, size, batch, Double(images) / total, 1e3 * preprocessing / Double(images),
                    1e3 * total / Double(images)))
            return 0
        } catch {
            print("dancegrpo-bench rewards: \(error)")
            return 1
        }
    }
}
