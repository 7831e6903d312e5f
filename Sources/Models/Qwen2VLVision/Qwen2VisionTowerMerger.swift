import Engine
import NN

// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/models/qwen2_vl/modeling_qwen2_vl.py#L279
// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/models/qwen2_5_vl/modeling_qwen2_5_vl.py#L185
/// The patch merger both Qwen2-VL towers end with (transformers' `PatchMerger` and `Qwen2_5_VLPatchMerger`): a norm
/// (`ln_q`, eps 1e-6) per patch, then each merge unit's m × m consecutive patches concatenated and sent through `mlp`
/// (Linear, exact GELU, Linear: keys `mlp.0`, `mlp.2`) to the language model's width. The towers differ only in the
/// norm (``Qwen2VisionPatchMerger``, ``Qwen2VLVisionPatchMerger``).
public class Qwen2VisionTowerMerger<Norm: Module & UnaryLayer>: Module {
    @Child(key: "ln_q") public var lnQ: Norm
    public let mlp: Sequential
    public let unitWidth: Int

    init(_ config: some Qwen2VisionTowerConfig, norm: Norm, outWidth: Int, dtype: DType, key: RandomKey) {
        let keys = key.split(into: 2)
        unitWidth = config.blockWidth * config.mergeUnit
        mlp = Sequential([
            Linear(unitWidth, unitWidth, dtype: dtype, key: keys[0]), GELU(),
            Linear(unitWidth, outWidth, dtype: dtype, key: keys[1])
        ])
        super.init()
        lnQ = norm
    }

    /// `[L, width]` patches, merge units consecutive → `[L / m², out width]`.
    public func callAsFunction(_ x: Tensor) -> Tensor { mlp(lnQ(x).reshaped([-1, unitWidth])) }
}
