import Checkpoints
import Engine
import Foundation
import NN

// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/models/qwen2_5_vl/modeling_qwen2_5_vl.py#L185
/// transformers' `Qwen2_5_VLPatchMerger`: RMSNorm (`ln_q`) per patch, then each merge unit's m × m consecutive
/// patches concatenated and sent through `mlp` (Linear, GELU, Linear: keys `mlp.0`, `mlp.2`).
public final class Qwen2VLVisionPatchMerger: Module {
    @Child(key: "ln_q") public var lnQ: RMSNorm
    public let mlp: Sequential
    public let unitWidth: Int

    public init(_ config: Qwen2VLVisionConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        let keys = key.split(into: 2)
        unitWidth = config.hiddenSize * config.mergeUnit
        mlp = Sequential([
            Linear(unitWidth, unitWidth, dtype: dtype, key: keys[0]), GELU(),
            Linear(unitWidth, config.outHiddenSize, dtype: dtype, key: keys[1])
        ])
        super.init()
        lnQ = RMSNorm(config.hiddenSize, eps: 1e-6, dtype: dtype)
    }

    /// `[L, D]` patches, merge units consecutive → `[L / m², out_hidden_size]`.
    public func callAsFunction(_ x: Tensor) -> Tensor { mlp(lnQ(x).reshaped([-1, unitWidth])) }
}

/// What the vision tower returns.
public struct Qwen2VLVisionOutput {
    /// `[L, hidden_size]`: the last block's output per patch, in the processor's order. (transformers'
    /// `last_hidden_state` holds the same rows in its window order.)
    public let lastHiddenState: Tensor
    /// `[L / m², out_hidden_size]`: one token per merge unit, in the processor's order — transformers'
    /// `pooler_output`, what `get_image_features` splits per image and the language model receives.
    public let merged: Tensor
}

// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/models/qwen2_5_vl/modeling_qwen2_5_vl.py#L386
/// The Qwen2.5-VL vision tower (transformers' `Qwen2_5_VisionTransformerPretrainedModel`, stored as `visual.` in a
/// Qwen2.5-VL checkpoint): keys `patch_embed.proj` (Conv3d over `temporal_patch_size × patch_size²` pixels, no bias),
/// `blocks.<i>`, `merger`. Input: `pixel_values [L, C·T·P·P]` and `image_grid_thw` from the image processor
/// (``Qwen2VLImageProcessor``).
///
/// Blocks in `fullatt_block_indexes` attend over each frame of each image, the others within windows of
/// `window_size` pixels; every block rotates queries and keys by each patch's (row, column). Patches stay in the
/// processor's order; each run of patches that attend together is gathered into a padded batch
/// (``Qwen2VLVisionLayout``, ``Qwen2VLAttentionRuns``).
public final class Qwen2VLVisionTransformer: Module {
    public let config: Qwen2VLVisionConfig
    @Child(key: "patch_embed") public var patchEmbed: PatchEmbed
    public let blocks: [Qwen2VLVisionBlock]
    public let merger: Qwen2VLVisionPatchMerger

    /// transformers' `Qwen2_5_VisionPatchEmbed`: key `proj`.
    public final class PatchEmbed: Module {
        public let proj: Conv3d
        init(_ config: Qwen2VLVisionConfig, dtype: DType, key: RandomKey) {
            let kernel: ConvolutionSize = [config.temporalPatchSize, config.patchSize, config.patchSize]
            proj = Conv3d(
                config.inChannels, config.hiddenSize, kernelSize: kernel, stride: kernel, bias: false, dtype: dtype,
                key: key)
            super.init()
        }
    }

    /// Random weights for `config`; load a checkpoint over them. Stops with the config's problems if this
    /// implementation cannot build it (``Qwen2VLVisionConfig/load(_:)`` throws them).
    public init(_ config: Qwen2VLVisionConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        let problems = config.problems()
        precondition(problems.isEmpty, "Qwen2VLVisionTransformer: " + problems.joined(separator: "; "))
        self.config = config
        let keys = key.split(into: config.depth + 2)
        blocks = (0..<config.depth).map { Qwen2VLVisionBlock(config, dtype: dtype, key: keys[$0]) }
        merger = Qwen2VLVisionPatchMerger(config, dtype: dtype, key: keys[config.depth])
        super.init()
        patchEmbed = PatchEmbed(config, dtype: dtype, key: keys[config.depth + 1])
    }

    /// Builds the tower from a Qwen2.5-VL folder (e.g. Qwen-Image-Edit's `text_encoder/`): `vision_config` of its
    /// config.json and the tensors under `visual.` (or `model.visual.`, transformers 5's layout) of its
    /// safetensors. Strict over those keys; the language model's are not read. `dtype` nil keeps the checkpoint's.
    public static func load(from folder: URL, dtype: DType? = nil) throws -> Qwen2VLVisionTransformer {
        try Engine.catchingErrors {
            let config = try Qwen2VLVisionConfig.load(folder)
            let checkpoint = try SafeTensorsCheckpoint(path: folder)
            guard
                let prefix = ["visual.", "model.visual.", ""].first(where: {
                    checkpoint.dtypeAndShape($0 + "patch_embed.proj.weight") != nil
                })
            else {
                throw ConfigFile.Error(
                    file: folder.path, message: "no vision tower: no visual.patch_embed.proj.weight tensor")
            }
            let model = Qwen2VLVisionTransformer(config, dtype: dtype ?? .float32)
            try model.load(from: Qwen2VLVisionCheckpointView(checkpoint, prefix: prefix), dtype: dtype)
            return model
        }
    }

    /// `[L, head_dim]` cos and sin of each patch's rotary angles (float32): the first half of a head turns with the
    /// row, the second with the column, each over `head_dim / 4` frequencies repeated twice (rotate-half layout).
    func rotary(_ layout: Qwen2VLVisionLayout) -> (cos: Tensor, sin: Tensor) {
        Self.rotary(layout, headDim: config.headDim, theta: config.ropeTheta)
    }

    /// ``rotary(_:)`` for any tower's head size and base (Qwen2-VL's tower turns the same way).
    static func rotary(_ layout: Qwen2VLVisionLayout, headDim: Int, theta: Double) -> (cos: Tensor, sin: Tensor) {
        let quarter = headDim / 4
        let spatial = Double(headDim / 2)
        let inverse = (0..<quarter).map { Float(1 / pow(theta, Double(2 * $0) / spatial)) }
        let freqs = Tensor(inverse, shape: [1, quarter])
        let rows = Tensor(layout.positions.map { Float($0.h) }, shape: [layout.patchCount, 1]) * freqs
        let cols = Tensor(layout.positions.map { Float($0.w) }, shape: [layout.patchCount, 1]) * freqs
        let angles = concatenated([rows, cols, rows, cols], axis: 1)
        return (angles.cos(), angles.sin())
    }

    /// `pixelValues [L, C·T·P·P]` and the images' `(t, h, w)` patch grids (`image_grid_thw`; L = Σ t·h·w).
    public func callAsFunction(_ pixelValues: Tensor, grids: [(t: Int, h: Int, w: Int)]) -> Qwen2VLVisionOutput {
        let c = config
        let layout = Qwen2VLVisionLayout(grids: grids, config: c)
        precondition(
            pixelValues.ndim == 2 && pixelValues.dim(0) == layout.patchCount && pixelValues.dim(1) == c.patchValues,
            "Qwen2VLVisionTransformer: expected pixel_values [\(layout.patchCount), \(c.patchValues)] for grids "
                + "\(grids), got \(pixelValues.shape)")
        let dtype = patchEmbed.proj.weight.dtype
        // Each row is (C, T, P, P) flattened; the convolution takes it channels-last and covers it in one step.
        let patches = pixelValues.asType(dtype).reshaped([
            -1, c.inChannels, c.temporalPatchSize, c.patchSize, c.patchSize
        ])
        .transposed([0, 2, 3, 4, 1])
        var x = patchEmbed.proj(patches).reshaped([-1, c.hiddenSize])
        let (cos, sin) = rotary(layout)
        let fullRuns = Qwen2VLVisionLayout.runs(layout.fullSegments)
        let windowRuns = Qwen2VLVisionLayout.runs(layout.windowSegments)
        for (i, block) in blocks.enumerated() {
            x = block(x, cos: cos, sin: sin, runs: c.fullattBlockIndexes.contains(i) ? fullRuns : windowRuns)
        }
        return Qwen2VLVisionOutput(lastHiddenState: x, merged: merger(x))
    }
}

/// A checkpoint's tensors under `prefix`, seen with the prefix removed (a vision tower inside a whole VLM's files).
final class Qwen2VLVisionCheckpointView: CheckpointSource {
    private let base: any CheckpointSource
    private let prefix: String
    let keys: [String]

    init(_ base: any CheckpointSource, prefix: String) {
        self.base = base
        self.prefix = prefix
        keys = base.keys.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
    }

    var source: String { base.source + (prefix.isEmpty ? "" : " (\(prefix)*)") }
    func dtypeAndShape(_ key: String) -> (dtype: DType, shape: [Int])? { base.dtypeAndShape(prefix + key) }
    func tensor(_ key: String) throws -> Tensor { try base.tensor(prefix + key) }
    func bytes(_ key: String) throws -> Data { try base.bytes(prefix + key) }
    func tensors() throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for key in keys { out[key] = try base.tensor(prefix + key) }
        return out
    }
}
