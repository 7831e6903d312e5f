import Checkpoints
import Engine
import Foundation
import Imaging
import TestSupport
import Tokenizers

/// The files written by tools/goldens/rewards.py (Tests/TestSupport/Fixtures/rewards/).
enum RewardFixtures {
    static func url(_ name: String) -> URL { Fixture.url("rewards/\(name)") }

    static let golden: (tensors: [String: Tensor], prompts: [String], images: [String]) = {
        let file = try! SafeTensorsFile(url: url("rewards.safetensors"))
        let prompts = try! JSONDecoder().decode([String].self, from: Data(file.metadata["prompts"]!.utf8))
        let images = try! JSONDecoder().decode([String].self, from: Data(file.metadata["images"]!.utf8))
        return (try! file.tensors(), prompts, images)
    }()

    static func tensor(_ key: String) -> Tensor {
        guard let t = golden.tensors[key] else { fatalError("rewards.safetensors has no \(key)") }
        return t
    }

    static var prompts: [String] { golden.prompts }
    static var imageNames: [String] { golden.images }

    static func image(_ name: String) throws -> RGBImage {
        try PNGDecoder.decode(contentsOf: url("images/\(name).png")).rgbImage()
    }

    static func images() throws -> [RGBImage] { try imageNames.map(image) }

    /// flux_mini's 571-token BPE, the vocabulary of the tiny models.
    static func tokenizer(cleaning: CLIPTokenizer.TextCleaning = .huggingFace) throws -> CLIPTokenizer {
        try CLIPTokenizer(directory: Fixture.url("flux_mini/tokenizer"), cleaning: cleaning)
    }

    /// `values` normalised as torchvision's Normalize does (float32 `(x − mean) / std`), `[N, H, W, 3]` → same
    /// shape.
    static func normalized(_ t: Tensor) -> Tensor {
        let mean = Tensor([0.48145466, 0.4578275, 0.40821073] as [Float])
        let std = Tensor([0.26862954, 0.26130258, 0.27577711] as [Float])
        return (t.asType(.float32) - mean) / std
    }

    /// The HPS pixel batch of the golden images (the stored [0, 1] values, normalised), `[4, 48, 48, 3]`.
    static var hpsPixels: Tensor { normalized(stacked(imageNames.map { tensor("pre.\($0).hps") })) }

    /// The CLIPImageProcessor pixel batch (stored bytes / 255, normalised), `[4, 48, 48, 3]`.
    static var clipPixels: Tensor {
        normalized(stacked(imageNames.map { tensor("pre.\($0).clipprocessor").asType(.float32) / 255 }))
    }
}
