import Engine
import NN

// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/models/qwen2_5_vl/modeling_qwen2_5_vl.py#L259
/// transformers' `Qwen2_5_VLVisionAttention`: keys `qkv` (one projection to queries, keys and values, with bias) and
/// `proj`. Queries and keys are rotated by the 2D rotary (rotate-half form, computed in float32 as transformers
/// does); each patch attends within its run (window, or frame of an image).
public final class Qwen2VLVisionAttention: Module {
    public let qkv: Linear
    public let proj: Linear
    public let heads: Int

    public init(_ config: some Qwen2VisionTowerConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        let keys = key.split(into: 2)
        heads = config.numHeads
        qkv = Linear(config.blockWidth, 3 * config.blockWidth, dtype: dtype, key: keys[0])
        proj = Linear(config.blockWidth, config.blockWidth, dtype: dtype, key: keys[1])
        super.init()
    }

    /// `x [L, D]`, `cos`/`sin [L, head_dim]` (float32) → `[L, D]`.
    public func callAsFunction(_ x: Tensor, cos: Tensor, sin: Tensor, runs: Qwen2VLAttentionRuns) -> Tensor {
        let length = x.dim(0)
        let headDim = x.dim(1) / heads
        // [L, 3, H, d] → three [H, L, d]
        let parts = qkv(x).reshaped([length, 3, heads, headDim]).transposed([1, 2, 0, 3])
        func rotated(_ t: Tensor) -> Tensor {
            let t32 = t.asType(.float32)
            let half = headDim / 2
            let rotatedHalf = concatenated([-t32[.ellipsis, half...], t32[.ellipsis, 0..<half]], axis: -1)
            return (t32 * cos + rotatedHalf * sin).asType(t.dtype)
        }
        // [H, L, d] → [runs, H, length, d], each run's patches gathered into one row of the batch.
        func batched(_ t: Tensor) -> Tensor {
            let rows = runs.gather.map { t.transposed([1, 0, 2]).take($0, axis: 0) } ?? t.transposed([1, 0, 2])
            return rows.reshaped([runs.count, runs.length, heads, headDim]).transposed([0, 2, 1, 3])
        }
        let out = scaledDotProductAttention(
            queries: batched(rotated(parts[0])), keys: batched(rotated(parts[1])), values: batched(parts[2]),
            scale: 1 / Float(headDim).squareRoot(), mask: runs.keyMask.map { .array($0) } ?? .none)
        let rows = out.transposed([0, 2, 1, 3]).reshaped([runs.count * runs.length, heads * headDim])
        return proj(runs.scatter.map { rows.take($0, axis: 0) } ?? rows)
    }
}

/// transformers' `Qwen2_5_VLMLP` with bias: `down_proj(act(gate_proj(x)) · up_proj(x))`.
public final class Qwen2VLVisionMLP: Module, UnaryLayer {
    @Child(key: "gate_proj") public var gateProj: Linear
    @Child(key: "up_proj") public var upProj: Linear
    @Child(key: "down_proj") public var downProj: Linear
    public let activation: String

    public init(_ config: Qwen2VLVisionConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        let keys = key.split(into: 3)
        activation = config.hiddenAct
        super.init()
        gateProj = Linear(config.hiddenSize, config.intermediateSize, dtype: dtype, key: keys[0])
        upProj = Linear(config.hiddenSize, config.intermediateSize, dtype: dtype, key: keys[1])
        downProj = Linear(config.intermediateSize, config.hiddenSize, dtype: dtype, key: keys[2])
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let gate = gateProj(x)
        return downProj((activation == "gelu" ? gelu(gate) : silu(gate)) * upProj(x))
    }
}

// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/models/qwen2_5_vl/modeling_qwen2_5_vl.py#L342
/// transformers' `Qwen2_5_VLVisionBlock`: the towers' pre-norm block (``Qwen2VisionTowerBlock``) with RMSNorm (eps
/// 1e-6) and the gated MLP.
public final class Qwen2VLVisionBlock: Qwen2VisionTowerBlock<RMSNorm, Qwen2VLVisionMLP> {
    public init(_ config: Qwen2VLVisionConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        let keys = key.split(into: 2)
        super.init(
            norm1: RMSNorm(config.hiddenSize, eps: 1e-6, dtype: dtype),
            norm2: RMSNorm(config.hiddenSize, eps: 1e-6, dtype: dtype),
            attn: Qwen2VLVisionAttention(config, dtype: dtype, key: keys[0]),
            mlp: Qwen2VLVisionMLP(config, dtype: dtype, key: keys[1]))
    }
}
