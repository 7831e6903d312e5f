import Engine
import NN

// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/models/qwen2_vl/modeling_qwen2_vl.py#L253
// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/models/qwen2_5_vl/modeling_qwen2_5_vl.py#L99
/// transformers' Qwen2-VL `PatchEmbed` and `Qwen2_5_VisionPatchEmbed` (the same module): key `proj`, a Conv3d over
/// `temporal_patch_size × patch_size²` pixels, no bias, to the blocks' width.
public final class Qwen2VisionPatchEmbed: Module {
    public let proj: Conv3d
    /// (C, T, P, P) of one patch row.
    private let patchShape: [Int]
    private let patchValues: Int
    private let width: Int

    init(_ config: some Qwen2VisionTowerConfig, dtype: DType, key: RandomKey) {
        let kernel: ConvolutionSize = [config.temporalPatchSize, config.patchSize, config.patchSize]
        proj = Conv3d(
            config.inChannels, config.blockWidth, kernelSize: kernel, stride: kernel, bias: false, dtype: dtype,
            key: key)
        patchShape = [config.inChannels, config.temporalPatchSize, config.patchSize, config.patchSize]
        patchValues = config.patchValues
        width = config.blockWidth
        super.init()
    }

    /// `pixelValues [L, C·T·P·P]` (`pixel_values` or `pixel_values_videos`) for `layout`'s grids → `[L, width]`.
    func callAsFunction(_ pixelValues: Tensor, layout: Qwen2VLVisionLayout) -> Tensor {
        precondition(
            pixelValues.ndim == 2 && pixelValues.dim(0) == layout.patchCount && pixelValues.dim(1) == patchValues,
            "Qwen2-VL vision tower: expected pixel_values [\(layout.patchCount), \(patchValues)] for grids "
                + "\(layout.grids), got \(pixelValues.shape)")
        // Each row is (C, T, P, P) flattened; the convolution takes it channels-last and covers it in one step.
        let patches = pixelValues.asType(proj.weight.dtype).reshaped([-1] + patchShape).transposed([0, 2, 3, 4, 1])
        return proj(patches).reshaped([-1, width])
    }
}
