import Checkpoints
import Engine
import Foundation
import Imaging
import Models

/// The committed seed corpus (Tests/Fuzz/corpus/<target>/): small valid inputs of each target, written from the test
/// fixtures and by the project's own writers, so that the fuzzer starts from files that pass every check.
public enum SeedCorpus {
    /// The repository's test fixtures, found from this source file.
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Tests/TestSupport/Fixtures")

    /// Writes every target's seeds under `folder/<target>/`.
    public static func write(to folder: URL) throws {
        for target in FuzzTarget.allCases {
            let sub = folder.appendingPathComponent(target.rawValue)
            try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
            for (name, bytes) in try seeds(target) { try Data(bytes).write(to: sub.appendingPathComponent(name)) }
        }
    }

    static func fixture(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: fixtures.appendingPathComponent(path)))
    }

    static func safetensors(_ tensors: [String: Tensor], metadata: [String: String] = [:]) throws -> [UInt8] {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("seed-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try SafeTensors.save(tensors, metadata: metadata, to: url)
        return [UInt8](try Data(contentsOf: url))
    }

    static func json(_ object: Any) throws -> [UInt8] {
        [UInt8](try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
    }

    static func seeds(_ target: FuzzTarget) throws -> [(String, [UInt8])] {
        switch target {
        case .safetensors:
            return [
                (
                    "mixed.safetensors",
                    try safetensors(
                        [
                            "w": Tensor([1, .nan, -.infinity, 2] as [Float], shape: [2, 2]),
                            "h": Tensor([1, 2, 3] as [Float], shape: [3]).asType(.float16),
                            "b": Tensor([0.5] as [Float], shape: [1]).asType(.bfloat16),
                            "i": Tensor([7, 8] as [Int32], shape: [2]), "e": Tensor([Float](), shape: [0, 3])
                        ], metadata: ["format": "pt"])
                ), ("empty.safetensors", try safetensors([:]))
            ]
        case .safetensorsIndex:
            return [
                (
                    "index.json",
                    try json([
                        "metadata": ["total_size": 24],
                        "weight_map": [
                            "a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors",
                            "c": "model-00002-of-00002.safetensors"
                        ]
                    ])
                )
            ]
        case .torch:
            return try ["legacy.pt", "views.pt", "linear.bin", "zip64.pt", "nested.ckpt", "protocol4.pt"].map {
                ($0, try fixture("torch_checkpoints/\($0)"))
            }
        case .clipBPE:
            return [
                (
                    "vocab-merges",
                    try fixture("flux_mini/tokenizer/vocab.json") + [0] + fixture("flux_mini/tokenizer/merges.txt")
                )
            ]
        case .tokenizerJSON: return [("tokenizer.json", try fixture("tokenizers/t5_rules/tokenizer.json"))]
        case .sentencePiece: return [("spiece.model", try fixture("tokenizers/t5_rules/spiece.model"))]
        case .config:
            return try [
                "flux_mini/transformer", "flux_mini/text_encoder", "flux_mini/text_encoder_2", "flux_mini/vae",
                "sd_mini/unet"
            ].map { ($0.replacingOccurrences(of: "/", with: "-") + ".json", try fixture("\($0)/config.json")) }
        case .png:
            return try ["pil_gray16", "pil_gray_alpha", "pil_mono", "pil_palette_trns", "pil_rgba", "zlib_adam7"].map {
                ("\($0).png", try fixture("imaging/\($0).png"))
            }
        case .jpeg:
            var image = RGBImage(width: 9, height: 7)
            for y in 0..<7 { for x in 0..<9 { image[x, y] = RGB(UInt8(x * 28), UInt8(y * 36), 200) } }
            return [
                ("baseline.jpg", try JPEGEncoder(quality: 80).encode(image)),
                (
                    "progressive.jpg",
                    try JPEGEncoder(quality: 60, subsampling: .none444, progressive: true).encode(image)
                )
            ]
        case .embeddingCache:
            let entry = FluxEmbeddingCache.Entry(
                promptEmbedPath: "0.safetensors", pooledPromptEmbedsPath: "0.safetensors", textIds: "0.safetensors",
                caption: "a cat")
            return [("videos2caption.json", [UInt8](try JSONEncoder().encode([entry, entry])))]
        }
    }
}
