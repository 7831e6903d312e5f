import Engine
import NN

// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/models/qwen2_vl/modeling_qwen2_vl.py#L427
// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/models/qwen2_5_vl/modeling_qwen2_5_vl.py#L342
/// The block both Qwen2-VL towers stack (transformers' `Qwen2VLVisionBlock` and `Qwen2_5_VLVisionBlock`): pre-norm
/// attention and MLP, each added back. The towers differ only in the norm and the MLP each block is built with
/// (``Qwen2VisionBlock``, ``Qwen2VLVisionBlock``).
public class Qwen2VisionTowerBlock<Norm: Module & UnaryLayer, MLP: Module & UnaryLayer>: Module {
    public let norm1: Norm
    public let norm2: Norm
    public let attn: Qwen2VLVisionAttention
    public let mlp: MLP

    init(norm1: Norm, norm2: Norm, attn: Qwen2VLVisionAttention, mlp: MLP) {
        (self.norm1, self.norm2, self.attn, self.mlp) = (norm1, norm2, attn, mlp)
        super.init()
    }

    public func callAsFunction(_ x: Tensor, cos: Tensor, sin: Tensor, runs: Qwen2VLAttentionRuns) -> Tensor {
        let h = x + attn(norm1(x), cos: cos, sin: sin, runs: runs)
        return h + mlp(norm2(h))
    }
}
