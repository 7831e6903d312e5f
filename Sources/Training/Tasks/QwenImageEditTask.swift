import Checkpoints
import Engine
import Foundation
import GRPO
import Imaging
import Models
import NN
import Rewards

/// Which cached sample a Qwen-Image-Edit prompt is: SEED-Data-Edit has instructions shared by several source images,
/// so the prompt's text (the instruction, what the reward reads) does not name its sample.
public struct QwenImageEditSample: Hashable, Sendable {
    /// The entry's position in the cache manifest.
    public var index: Int
}

/// DanceGRPO's Qwen-Image-Edit setting (`train_grpo_qwenimage_edit.py`) as a GRPO task: the Qwen-Image task
/// (``QwenImageTask``: transformer trained, VAE frozen, text from the cache, no classifier-free guidance) with each
/// sample's condition image. The seed's outputs are `--h × --w` (512 × 512 in its script) whatever the condition
/// image: only the condition's own grid comes from its calculated size (`calculate_dimensions(1024², w / h)`, cached
/// by the preprocessing), so the noise latents `[(h/2)·(w/2), 4·z_dim]` are one shape for every sample. Every
/// transformer call joins the sample's packed condition latents after the noise tokens with both grids in `img_shapes`,
/// and the velocity is the output's first tokens, as `QwenImageEditPipeline` and the seed's `run_sample_step` /
/// `grpo_one_step` do. The rewards score the decoded edit with the instruction as the prompt: the seed's HPS-v2.1 is
/// the OpenCLIP ViT-H-14 image/text feature product of the output image against the instruction; the source and target
/// images are not scored. Deviation: the seed's update gives every sample the condition grid of the iteration's first
/// sample (`calculated_height[0]`), which its rollout does not (each sample's own); here rollout and update use each
/// sample's own grid, so the first update's ratios are one whatever the condition sizes.
/// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/train_grpo_qwenimage_edit.py
public final class QwenImageEditTask: TrainingTask {
    public let transformer: QwenImageTransformer2DModel
    public let vae: AutoencoderKLQwenImage
    public let cache: QwenImageEditEmbeddingCache
    public let entries: [QwenImageEditEmbeddingCache.Entry]
    public let height: Int
    public let width: Int
    private let firstByCaption: [String: Int]
    private let imageShape: QwenEmbedRope.ImageShape
    private let latentGrid: (height: Int, width: Int)

    public init(
        transformer: QwenImageTransformer2DModel, vae: AutoencoderKLQwenImage, embeddings: URL, height: Int = 512,
        width: Int = 512
    ) throws {
        self.transformer = transformer
        self.vae = vae
        transformerParameters = transformer.parameterCount()
        cache = QwenImageEditEmbeddingCache(folder: embeddings)
        entries = try cache.readManifest()
        guard !entries.isEmpty else {
            throw TrainingDataError.embeddingCache(
                file: cache.manifestURL.path, reason: "the embedding manifest lists no samples")
        }
        self.height = height
        self.width = width
        firstByCaption = Dictionary(
            entries.enumerated().map { ($0.element.caption, $0.offset) }, uniquingKeysWith: { first, _ in first })
        latentGrid = QwenImageLatents.latentSize(
            imageHeight: height, imageWidth: width, vaeScaleFactor: vae.config.spatialCompression)
        imageShape = QwenImageLatents.imageShape(height: latentGrid.height, width: latentGrid.width)
        vae.freeze()
        // Check one entry now, so a cache made by another model fails before the first rollout.
        let sample = try cache.load(entries[0], vaeScaleFactor: vae.config.spatialCompression)
        let (textDim, channels) = (transformer.config.jointAttentionDim, 4 * vae.config.zDim)
        guard sample.promptEmbeds.dim(-1) == textDim, sample.condition.latents.dim(-1) == channels else {
            throw TrainingDataError.embeddingCache(
                file: cache.manifestURL.path,
                reason:
                    """
                    embeddings of \(sample.promptEmbeds.dim(-1)) features and condition tokens of \
                    \(sample.condition.latents.dim(-1)), expected the transformer's joint_attention_dim \(textDim) and \
                    4 × the VAE's z_dim \(channels) (was the cache made with another model?)
                    """)
        }
    }

    /// The transformer and VAE of a diffusers Qwen-Image-Edit folder (its transformer and VAE are Qwen-Image's).
    public static func loadNetworks(from folder: URL, dtype: DType? = nil, transformerFolder: URL? = nil) throws -> (
        transformer: QwenImageTransformer2DModel, vae: AutoencoderKLQwenImage
    ) {
        try QwenImageTask.loadNetworks(from: folder, dtype: dtype, transformerFolder: transformerFolder)
    }

    private let transformerParameters: Int

    public var summary: String {
        """
        Qwen-Image-Edit (\(transformerParameters) transformer parameters) on \(entries.count) cached edits, \
        \(width)×\(height) px
        """
    }

    /// Merged vision tokens of a 1024² condition image (Qwen2.5-VL: 14 px patches merged 2 × 2, so 28 px per token,
    /// 37 × 37 after the processor's rounding) and 64 for the instruction and the template's tail: the text length
    /// the plan assumes without a readable cache.
    public static let defaultTextTokens = 37 * 37 + 64

    /// Qwen-Image's transformer over the noise tokens of `height × width`, the condition's tokens (the cache's largest
    /// calculated size; 1024² px, 4096 tokens, without a readable cache) and the longest cached text
    /// (``defaultTextTokens`` without a cache): every double-stream block attends over all three jointly.
    public static func activationEstimate(folder: URL, settings: TaskSettings) throws -> ActivationEstimate? {
        let scale = 2 * (try ActivationEstimate.vaeScaleFactor(vaeFolder: folder.appendingPathComponent("vae")))
        let entries = settings.embeddings.flatMap {
            try? QwenImageEditEmbeddingCache(folder: URL(fileURLWithPath: $0)).readManifest()
        }
        let side = QwenImageEditPipeline.defaultTargetArea.squareRootOfInt
        let conditionTokens =
            entries?.map { ($0.calculatedHeight / scale) * ($0.calculatedWidth / scale) }.max()
            ?? (side / scale) * (side / scale)
        return try .qwenImage(
            transformerFolder: folder.appendingPathComponent("transformer"),
            imageTokens: (settings.height / scale) * (settings.width / scale) + conditionTokens,
            textTokens: entries?.map(\.originalLength).max() ?? defaultTextTokens)
    }

    public var network: Module { transformer }
    public var networkFolderName: String { "transformer" }
    public var chain: SamplingChain { .flow }
    public var latentShape: [Int] {
        [(latentGrid.height / 2) * (latentGrid.width / 2), 4 * vae.config.zDim]
    }

    public func saveNetwork(to folder: URL) throws {
        try transformer.writePretrainedFolder(
            folder.appendingPathComponent(networkFolderName), config: transformer.config)
    }

    public func policy(reference: ReferenceWeights?) -> DenoisingPolicy {
        QwenImageEditPolicy(transformer: transformer, imageShape: imageShape, reference: reference)
    }

    private func prompt(_ index: Int) -> Prompt {
        Prompt(text: entries[index].caption, metadata: QwenImageEditSample(index: index))
    }

    /// The cache's samples in ``CachedPromptOrder``, each prompt its instruction naming its sample.
    public func trainingPrompts(count: Int, iteration: Int, seed: UInt64) throws -> [Prompt] {
        CachedPromptOrder.prompts(entries.indices.map(String.init), count: count, iteration: iteration, seed: seed)
            .map { prompt(Int($0.text)!) }
    }

    /// The first `count` samples of the cache (all of them if fewer).
    public func evaluationPrompts(count: Int) throws -> [Prompt] {
        entries.indices.prefix(count).map(prompt)
    }

    /// Rows for instructions alone: each text's first cached sample.
    public func conditioning(_ texts: [String]) throws -> Conditioning {
        try conditioning(indices: texts.map(index(ofText:)))
    }

    /// Rows for prompts of ``trainingPrompts(count:iteration:seed:)`` (their sample), else by text.
    public func conditioning(prompts: [Prompt]) throws -> Conditioning {
        try conditioning(
            indices: prompts.map {
                if let sample = $0.metadata as? QwenImageEditSample, entries.indices.contains(sample.index) {
                    return sample.index
                }
                return try index(ofText: $0.text)
            })
    }

    private func index(ofText text: String) throws -> Int {
        if let index = firstByCaption[text] { return index }
        if text.isEmpty {
            throw TrainingDataError.embeddingCache(
                file: cache.manifestURL.path,
                reason:
                    """
                    the seed trains Qwen-Image-Edit without classifier-free guidance and the cache holds no negative \
                    prompt: keep --guidance-scale 1
                    """)
        }
        throw TrainingDataError.embeddingCache(
            file: cache.manifestURL.path, reason: "no cached sample with the instruction '\(text)'")
    }

    /// Cached states `prompt_embeds [B, L, hidden]` and `prompt_mask [B, L]` (each sample's `original_length` tokens,
    /// right-padded to the longest of the call, the padding masked), the packed condition latents
    /// `condition_latents [B, N, 4·z_dim]` (zero-padded to the largest condition of the call; the policy feeds each
    /// row only its own tokens) and `condition_grid [B, 2]` (int32, the condition's token rows and columns).
    public func conditioning(indices: [Int]) throws -> Conditioning {
        let samples = try indices.map { try cache.load(entries[$0], vaeScaleFactor: vae.config.spatialCompression) }
        let length = samples.map { $0.promptEmbeds.dim(0) }.max() ?? 0
        let tokens = samples.map { $0.condition.latents.dim(0) }.max() ?? 0
        let (hidden, channels) = (transformer.config.jointAttentionDim, 4 * vae.config.zDim)
        func padded(_ x: Tensor, to n: Int, _ row: [Int]) -> Tensor {
            x.dim(0) == n ? x : concatenated([x, Tensor.zeros([n - x.dim(0)] + row)], axis: 0)
        }
        return Conditioning([
            "prompt_embeds": stacked(samples.map { padded($0.promptEmbeds, to: length, [hidden]) }, axis: 0),
            "prompt_mask": stacked(samples.map { padded($0.mask, to: length, []) }, axis: 0),
            "condition_latents": stacked(samples.map { padded($0.condition.latents, to: tokens, [channels]) }, axis: 0),
            "condition_grid": Tensor(
                samples.flatMap { [Int32($0.condition.shape.height), Int32($0.condition.shape.width)] },
                shape: [samples.count, 2])
        ])
    }

    /// Final packed latents → images, as ``QwenImageTask/images(_:)`` decodes them (the seed's decoding is the same).
    public func images(_ latents: Tensor) throws -> [RGBImage] {
        let unpacked = QwenImageLatents.unpack(
            latents.asType(.float32), height: latentGrid.height, width: latentGrid.width)
        let raw = vae.denormalize(unpacked)
        let decoded = vae.decode(raw.asType(vae.quantConv.weight.dtype)).asType(.float32)
        let pixels = ((decoded[.all, .all, 0] + 1) * 0.5).clipped(min: 0, max: 1).transposed([0, 2, 3, 1])
        let (b, h, w) = (pixels.dim(0), pixels.dim(1), pixels.dim(2))
        let values = pixels.toArray(Float.self)
        return try (0..<b).map { i in
            try RGBImage(
                hwc: Array(values[(i * h * w * 3)..<((i + 1) * h * w * 3)]), shape: [h, w, 3], range: .zeroToOne)
        }
    }
}

extension Int {
    /// ⌊√self⌋ for a perfect square such as 1024².
    fileprivate var squareRootOfInt: Int { Int(Double(self).squareRoot().rounded()) }
}

/// GRPO's view of Qwen-Image-Edit: the velocity of the noise tokens `[B, Li, 4·z_dim]` with each row's condition
/// tokens joined after them (`img_shapes` [noise grid, condition grid]), the output cut to the first `Li` tokens, as
/// the seed's `pred[:, :z.shape[1]]`. Rows whose conditions differ in size go through the transformer in separate
/// calls (a padded condition token would be attended to). Timesteps as ``QwenImagePolicy``'s.
final class QwenImageEditPolicy: SnapshotReferencePolicy {
    let transformer: QwenImageTransformer2DModel
    let imageShape: QwenEmbedRope.ImageShape
    let reference: ReferenceWeights?

    init(transformer: QwenImageTransformer2DModel, imageShape: QwenEmbedRope.ImageShape, reference: ReferenceWeights?) {
        self.transformer = transformer
        self.imageShape = imageShape
        self.reference = reference
    }

    var module: Module { transformer }

    func modelOutput(_ x: Tensor, timesteps: Tensor, conditioning: Conditioning) -> Tensor {
        let grid = conditioning["condition_grid"].toArray(Int32.self).map(Int.init)
        let rows = x.dim(0)
        var groups: [[Int]] = []
        var groupOf: [[Int]: Int] = [:]
        for row in 0..<rows {
            let key = [grid[2 * row], grid[2 * row + 1]]
            if let g = groupOf[key] {
                groups[g].append(row)
            } else {
                groupOf[key] = groups.count
                groups.append([row])
            }
        }
        if groups.count == 1 {
            return call(x, timesteps: timesteps, conditioning: conditioning, grid: (grid[0], grid[1]))
        }
        var outputs: [Tensor] = []
        for group in groups {
            let index = Tensor(group.map(Int32.init))
            outputs.append(
                call(
                    x.take(index, axis: 0), timesteps: timesteps.take(index, axis: 0),
                    conditioning: conditioning.rows(group), grid: (grid[2 * group[0]], grid[2 * group[0] + 1])))
        }
        // Back to the rows' order.
        var position = [Int32](repeating: 0, count: rows)
        for (k, row) in groups.joined().enumerated() { position[row] = Int32(k) }
        return concatenated(outputs, axis: 0).take(Tensor(position), axis: 0)
    }

    private func call(_ x: Tensor, timesteps: Tensor, conditioning: Conditioning, grid: (Int, Int)) -> Tensor {
        let dtype = transformer.imageIn.weight.dtype
        let condition = conditioning["condition_latents"][.all, 0..<(grid.0 * grid.1)]
        let input = concatenated([x.asType(dtype), condition.asType(dtype)], axis: 1)
        let out = transformer(
            hiddenStates: input, encoderHiddenStates: conditioning["prompt_embeds"].asType(dtype),
            encoderHiddenStatesMask: conditioning["prompt_mask"], timestep: timesteps / 1000,
            imageShapes: Array(repeating: [imageShape, (1, grid.0, grid.1)], count: x.dim(0)))
        return out[.all, 0..<x.dim(1)].asType(.float32)
    }

}
