import Engine
import Foundation
import Imaging
import Models
import NN

/// The LAION improved-aesthetic-predictor head as DDPO uses it (`ddpo_pytorch/aesthetic_scorer.py`, weights
/// `sac+logos+ava1-l14-linearMSE.pth`): `nn.Sequential(Linear(768, 1024), Dropout, Linear(1024, 128), Dropout,
/// Linear(128, 64), Dropout, Linear(64, 16), Linear(16, 1))` — no activations — keys `layers.<i>.weight/bias`.
/// The layer sizes and positions are read from the weights; the dropouts are identities (evaluation).
public final class AestheticPredictor: Module {
    public let layers: Sequential

    /// Linear layers at the given `layers.<index>` positions (`[out, in]` weight shapes); other indices are dropout.
    public init(linearShapes: [Int: [Int]], dtype: DType = .float32) {
        let last = linearShapes.keys.max() ?? -1
        var modules: [Module & UnaryLayer] = []
        for i in 0...max(last, 0) where last >= 0 {
            if let shape = linearShapes[i] {
                modules.append(Linear(shape[1], shape[0], dtype: dtype))
            } else {
                modules.append(Identity())
            }
        }
        layers = Sequential(modules)
        super.init()
    }

    /// Builds the head from its checkpoint; `inputDimension` is the CLIP embedding size it must accept.
    public static func load(_ url: URL, inputDimension: Int? = nil, dtype: DType = .float32) throws
        -> AestheticPredictor
    {
        let dict = try StateDict(contentsOf: url)
        var shapes: [Int: [Int]] = [:]
        for key in dict.keys {
            let parts = key.split(separator: ".")
            guard parts.count == 3, parts[0] == "layers", let i = Int(parts[1]), parts[2] == "weight" else {
                guard parts.count == 3, parts[0] == "layers", parts[2] == "bias" else {
                    throw RewardError.checkpointMismatch(
                        file: url.lastPathComponent,
                        expected: "an aesthetic MLP (keys layers.<i>.weight, layers.<i>.bias)",
                        found: "key \(key)")
                }
                continue
            }
            guard let shape = dict.shape(key), shape.count == 2 else {
                throw RewardError.checkpointMismatch(
                    file: url.lastPathComponent, expected: "\(key) of rank 2", found: "\(dict.shape(key) ?? [])")
            }
            shapes[i] = shape
        }
        let ordered = shapes.keys.sorted()
        guard let first = ordered.first, shapes[ordered.last!]![0] == 1 else {
            throw RewardError.checkpointMismatch(
                file: url.lastPathComponent, expected: "linear layers ending in one output",
                found: "\(ordered.count) layers")
        }
        for (a, b) in zip(ordered, ordered.dropFirst()) where shapes[a]![0] != shapes[b]![1] {
            throw RewardError.checkpointMismatch(
                file: url.lastPathComponent, expected: "layers.\(b).weight with \(shapes[a]![0]) inputs",
                found: "\(shapes[b]![1])")
        }
        if let inputDimension, shapes[first]![1] != inputDimension {
            throw RewardError.checkpointMismatch(
                file: url.lastPathComponent,
                expected: "layers.\(first).weight with \(inputDimension) inputs (the CLIP model's projection_dim)",
                found: "\(shapes[first]![1]) inputs")
        }
        let model = AestheticPredictor(linearShapes: shapes, dtype: dtype)
        try model.load(try dict.tensors(), strict: true, dtype: dtype, source: url.lastPathComponent)
        model.train(false)
        return model
    }

    /// `embeddings [B, D]` → `[B]`.
    public func callAsFunction(_ embeddings: Tensor) -> Tensor { layers(embeddings).reshaped([-1]) }
}

/// The LAION aesthetic score as DDPO computes it: CLIP ViT-L/14 (`openai/clip-vit-large-patch14`, transformers)
/// image embeddings through CLIPProcessor, L2-normalised, then ``AestheticPredictor``. Prompts are ignored.
public final class AestheticReward: ImageRewardModel {
    public let name = "aesthetic"
    public var batchSize = 8
    public let clip: CLIPModel
    public let head: AestheticPredictor
    public let preprocessing: CLIPImagePreprocessing

    public init(clipFolder: URL, mlpCheckpoint: URL, dtype: DType = .float32) throws {
        clip = try RewardFiles.transformersCLIP(folder: clipFolder, dtype: dtype)
        clip.train(false)
        head = try AestheticPredictor.load(mlpCheckpoint, inputDimension: clip.config.projectionDim, dtype: dtype)
        preprocessing = try RewardFiles.clipProcessor(
            in: [
                clipFolder, clipFolder.appendingPathComponent("processor"),
                clipFolder.appendingPathComponent("tokenizer")
            ],
            imageSize: clip.config.vision.imageSize)
    }

    public init(clip: CLIPModel, head: AestheticPredictor, preprocessing: CLIPImagePreprocessing? = nil) {
        self.clip = clip
        self.head = head
        self.preprocessing = preprocessing ?? .clipProcessor(size: clip.config.vision.imageSize)
    }

    /// Normalised image embeddings `[B, projection_dim]` (the head's input).
    public func embeddings(_ images: [RGBImage]) -> Tensor {
        let size = preprocessing.size
        let pixels = Tensor(preprocessing.batch(images), shape: [images.count, size, size, 3])
        let embeds = clip.imageFeatures(pixels).asType(.float32)
        return embeds / embeds.square().sum(axis: -1, keepDims: true).sqrt()  // torch.linalg.vector_norm, no epsilon
    }

    public func scores(images: [RGBImage], prompts: [String]) throws -> [Double] {
        try inBatches(images: images, prompts: prompts.isEmpty ? nil : prompts) { batch, _ in
            let scores = head(
                embeddings(Array(batch)).asType(
                    head.layers.modules.compactMap { ($0 as? Linear)?.weight.dtype }.first ?? .float32)
            ).asType(.float32)
            eval(scores)
            return scores.toArray(Float.self).map(Double.init)
        }
    }
}
