import Checkpoints
import Engine
import Foundation
import NN

// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/models/qwen2_vl/modeling_qwen2_vl.py#L279
/// transformers' Qwen2-VL `PatchMerger`: the towers' merger (``Qwen2VisionTowerMerger``) with LayerNorm, to
/// `hidden_size`.
public final class Qwen2VisionPatchMerger: Qwen2VisionTowerMerger<LayerNorm> {
    public init(_ config: Qwen2VisionConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        super.init(
            config, norm: LayerNorm(config.embedDim, eps: 1e-6, dtype: dtype), outWidth: config.hiddenSize,
            dtype: dtype, key: key)
    }
}

// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/models/qwen2_vl/modeling_qwen2_vl.py#L643
/// The Qwen2-VL (version 1) vision tower, transformers' `Qwen2VisionTransformerPretrainedModel`, stored as `visual.`
/// (transformers 4) or `model.visual.` (transformers 5) in a Qwen2-VL checkpoint: keys `patch_embed.proj` (Conv3d
/// over `temporal_patch_size × patch_size²` pixels, no bias), `blocks.<i>`, `merger`. Input: `pixel_values` or
/// `pixel_values_videos [L, C·T·P·P]` with their `(t, h, w)` grids, as transformers' Qwen2-VL processor makes them.
///
/// Every block attends over each temporal patch of each image or video separately (transformers' `cu_seqlens`: one
/// run of h·w patches per t) and rotates queries and keys by each patch's (row, column); there are no windows, so
/// the processor's patch order is kept throughout. The patch embedding, attention, rotary and layout are shared
/// with the Qwen2.5-VL tower (``Qwen2VLVisionTransformer``); the blocks (LayerNorm, fc1/fc2) and merger are
/// version 1's.
public final class Qwen2VisionTransformer: Module {
    public let config: Qwen2VisionConfig
    @Child(key: "patch_embed") public var patchEmbed: Qwen2VisionPatchEmbed
    public let blocks: [Qwen2VisionBlock]
    public let merger: Qwen2VisionPatchMerger

    /// Random weights for `config`; load a checkpoint over them. Stops with the config's problems if this
    /// implementation cannot build it (``Qwen2VisionConfig/load(_:)`` throws them).
    public init(_ config: Qwen2VisionConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        let problems = config.problems()
        precondition(problems.isEmpty, "Qwen2VisionTransformer: " + problems.joined(separator: "; "))
        self.config = config
        let keys = key.split(into: config.depth + 2)
        blocks = (0..<config.depth).map { Qwen2VisionBlock(config, dtype: dtype, key: keys[$0]) }
        merger = Qwen2VisionPatchMerger(config, dtype: dtype, key: keys[config.depth])
        super.init()
        patchEmbed = Qwen2VisionPatchEmbed(config, dtype: dtype, key: keys[config.depth + 1])
    }

    /// Builds the tower from a Qwen2-VL folder: `vision_config` of its config.json and the tensors under `visual.`
    /// (or `model.visual.`) of its safetensors. Strict over those keys; the language model's are not read. `dtype`
    /// nil keeps the checkpoint's.
    public static func load(from folder: URL, dtype: DType? = nil) throws -> Qwen2VisionTransformer {
        try Engine.catchingErrors {
            let config = try Qwen2VisionConfig.load(folder)
            let tower = try Qwen2VLVisionCheckpointView.visionTower(in: openCheckpoint(path: folder), folder: folder)
            let model = Qwen2VisionTransformer(config, dtype: dtype ?? .float32)
            try model.load(from: tower, dtype: dtype)
            return model
        }
    }

    /// `pixelValues [L, C·T·P·P]` and the `(t, h, w)` patch grids (`video_grid_thw` or `image_grid_thw`; L = Σ
    /// t·h·w) → `[L / m², hidden_size]`, one token per merge unit in the processor's order (transformers'
    /// `pooler_output`, what the language model receives).
    public func callAsFunction(_ pixelValues: Tensor, grids: [(t: Int, h: Int, w: Int)]) -> Tensor {
        // No windows: every block attends over each frame (one merge unit a window, never used).
        let layout = Qwen2VLVisionLayout(grids: grids, spatialMergeSize: config.spatialMergeSize, mergedWindowSize: 1)
        var x = patchEmbed(pixelValues, layout: layout)
        let (cos, sin) = layout.rotary(headDim: config.headDim, theta: config.ropeTheta)
        let runs = Qwen2VLVisionLayout.runs(layout.fullSegments)
        for block in blocks { x = block(x, cos: cos, sin: sin, runs: runs) }
        return merger(x)
    }
}
