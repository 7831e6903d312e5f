import Checkpoints
import Engine
import Foundation
import NN

// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/models/qwen2_5_vl/modeling_qwen2_5_vl.py#L185
/// transformers' `Qwen2_5_VLPatchMerger`: the towers' merger (``Qwen2VisionTowerMerger``) with RMSNorm, to
/// `out_hidden_size`.
public final class Qwen2VLVisionPatchMerger: Qwen2VisionTowerMerger<RMSNorm> {
    public init(_ config: Qwen2VLVisionConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        super.init(
            config, norm: RMSNorm(config.hiddenSize, eps: 1e-6, dtype: dtype), outWidth: config.outHiddenSize,
            dtype: dtype, key: key)
    }
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
    @Child(key: "patch_embed") public var patchEmbed: Qwen2VisionPatchEmbed
    public let blocks: [Qwen2VLVisionBlock]
    public let merger: Qwen2VLVisionPatchMerger

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
        patchEmbed = Qwen2VisionPatchEmbed(config, dtype: dtype, key: keys[config.depth + 1])
    }

    /// Builds the tower from a Qwen2.5-VL folder (e.g. Qwen-Image-Edit's `text_encoder/`): `vision_config` of its
    /// config.json and the tensors under `visual.` (or `model.visual.`, transformers 5's layout) of its
    /// safetensors. Strict over those keys; the language model's are not read. `dtype` nil keeps the checkpoint's.
    public static func load(from folder: URL, dtype: DType? = nil) throws -> Qwen2VLVisionTransformer {
        try Engine.catchingErrors {
            let config = try Qwen2VLVisionConfig.load(folder)
            let tower = try Qwen2VLVisionCheckpointView.visionTower(
                in: SafeTensorsCheckpoint(path: folder), folder: folder)
            let model = Qwen2VLVisionTransformer(config, dtype: dtype ?? .float32)
            try model.load(from: tower, dtype: dtype)
            return model
        }
    }

    /// `pixelValues [L, C·T·P·P]` and the images' `(t, h, w)` patch grids (`image_grid_thw`; L = Σ t·h·w).
    public func callAsFunction(_ pixelValues: Tensor, grids: [(t: Int, h: Int, w: Int)]) -> Qwen2VLVisionOutput {
        let c = config
        let layout = Qwen2VLVisionLayout(grids: grids, config: c)
        var x = patchEmbed(pixelValues, layout: layout)
        let (cos, sin) = layout.rotary(headDim: c.headDim, theta: c.ropeTheta)
        let fullRuns = Qwen2VLVisionLayout.runs(layout.fullSegments)
        let windowRuns = Qwen2VLVisionLayout.runs(layout.windowSegments)
        for (i, block) in blocks.enumerated() {
            x = block(x, cos: cos, sin: sin, runs: c.fullattBlockIndexes.contains(i) ? fullRuns : windowRuns)
        }
        return Qwen2VLVisionOutput(lastHiddenState: x, merged: merger(x))
    }
}
