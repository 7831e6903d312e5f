internal import CMLXShim

// Convolutions. Layout is channels-last, as MLX computes it:
//   input  [N, *spatial, C_in]        (N, L, C) · (N, H, W, C) · (N, D, H, W, C)
//   weight [C_out, *kernel, C_in / groups]
// PyTorch checkpoints store channels-first weights [C_out, C_in / groups, *kernel] (and transposed-convolution
// weights as [C_in, C_out / groups, *kernel]); the NN layer's checkpoint loading moves the channel axis last
// (see `Conv` in the NN target), so module keys and tensor contents still match the checkpoint.

/// N-dimensional convolution; `padding` may differ before/after an axis via `paddingHigh`.
public func convolution(
    _ input: Tensor, _ weight: Tensor, stride: [Int], padding: [Int], paddingHigh: [Int]? = nil,
    dilation: [Int], groups: Int = 1
) -> Tensor {
    let n = stride.count
    precondition(padding.count == n && dilation.count == n, "convolution: stride/padding/dilation need \(n) values")
    let r = withInt32s(stride) { s, _ in
        withInt32s(padding) { lo, _ in
            withInt32s(paddingHigh ?? padding) { hi, _ in
                withInt32s(dilation) { d, _ in
                    dg.convGeneral(input.raw, weight.raw, s, lo, hi, d, Int32(n), Int32(groups))
                }
            }
        }
    }
    return checked("conv\(n)d", [input, weight], r)
}

public func conv1d(_ x: Tensor, _ w: Tensor, stride: Int = 1, padding: Int = 0, dilation: Int = 1, groups: Int = 1)
    -> Tensor
{
    convolution(x, w, stride: [stride], padding: [padding], dilation: [dilation], groups: groups)
}
public func conv2d(
    _ x: Tensor, _ w: Tensor, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
    dilation: (Int, Int) = (1, 1), groups: Int = 1
) -> Tensor {
    convolution(
        x, w, stride: [stride.0, stride.1], padding: [padding.0, padding.1],
        dilation: [dilation.0, dilation.1], groups: groups)
}
public func conv3d(
    _ x: Tensor, _ w: Tensor, stride: (Int, Int, Int) = (1, 1, 1), padding: (Int, Int, Int) = (0, 0, 0),
    dilation: (Int, Int, Int) = (1, 1, 1), groups: Int = 1
) -> Tensor {
    convolution(
        x, w, stride: [stride.0, stride.1, stride.2], padding: [padding.0, padding.1, padding.2],
        dilation: [dilation.0, dilation.1, dilation.2], groups: groups)
}

/// Transposed convolution (the gradient of convolution), channels-last. Weight `[C_out, *kernel, C_in / groups]`.
public func convolutionTransposed(
    _ input: Tensor, _ weight: Tensor, stride: [Int], padding: [Int], dilation: [Int], outputPadding: [Int],
    groups: Int = 1
) -> Tensor {
    let n = stride.count
    let r = withInt32s(stride) { s, _ in
        withInt32s(padding) { p, _ in
            withInt32s(dilation) { d, _ in
                withInt32s(outputPadding) { o, _ in
                    dg.convTranspose(input.raw, weight.raw, s, p, d, o, Int32(n), Int32(groups))
                }
            }
        }
    }
    return checked("convTranspose\(n)d", [input, weight], r)
}
