import Engine

/// N-dimensional transposed convolution (`torch.nn.ConvTransposeNd`), channels-last like ``Convolution``.
/// Held as `[C_out, *kernel, C_in / groups]`; PyTorch's checkpoint layout is `[C_in, C_out / groups, *kernel]`,
/// whose channel roles swap within each group (see the hooks below). Keys `weight`, `bias`.
open class ConvolutionTransposed: Module, UnaryLayer {
    @Param public var weight: Tensor
    @Param public var bias: Tensor?
    public let stride: [Int]
    public let padding: [Int]
    public let outputPadding: [Int]
    public let dilation: [Int]
    public let groups: Int

    public var spatialAxes: Int { weight.ndim - 2 }
    public var kernelSize: [Int] { Array(weight.shape[1..<weight.ndim - 1]) }

    /// PyTorch's initialisation: uniform in ±1/sqrt(fan-in), where PyTorch's fan-in of this layer is
    /// C_out / groups · kernel size (it reads the second axis of its weight).
    public init(
        spatialAxes n: Int, _ inputChannels: Int, _ outputChannels: Int, kernelSize: ConvolutionSize,
        stride: ConvolutionSize = 1, padding: ConvolutionSize = 0, outputPadding: ConvolutionSize = 0,
        dilation: ConvolutionSize = 1, groups: Int = 1, bias: Bool = true, dtype: DType = .float32,
        key: RandomKey = RandomKey(seed: 0)
    ) {
        precondition(
            inputChannels % groups == 0 && outputChannels % groups == 0,
            "ConvTranspose\(n)d: channels \(inputChannels) → \(outputChannels) do not split into \(groups) groups")
        let kernel = kernelSize.values(n)
        let bound = 1 / Float(outputChannels / groups * kernel.reduce(1, *)).squareRoot()
        let keys = key.split(into: 2)
        weight = Random.uniform(
            [outputChannels] + kernel + [inputChannels / groups], low: -bound, high: bound,
            key: keys[0]
        ).asType(dtype)
        self.bias = bias ? Random.uniform([outputChannels], low: -bound, high: bound, key: keys[1]).asType(dtype) : nil
        self.stride = stride.values(n)
        self.padding = padding.values(n)
        self.outputPadding = outputPadding.values(n)
        self.dilation = dilation.values(n)
        self.groups = groups
        super.init()
    }

    open func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(
            x.ndim == spatialAxes + 2 && x.dim(-1) == weight.dim(-1) * groups,
            "ConvTranspose\(spatialAxes)d: expected channels-last input [N, *\(spatialAxes) spatial, "
                + "\(weight.dim(-1) * groups)], got \(x.shape)")
        let y = convolutionTransposed(
            x, weight, stride: stride, padding: padding, dilation: dilation,
            outputPadding: outputPadding, groups: groups)
        return bias.map { y + $0 } ?? y
    }

    // Per group g, PyTorch's block [C_in/g, C_out/g, *K] becomes [C_out/g, *K, C_in/g]. A tensor of the wrong rank
    // (or channel count) passes unchanged so that loading reports the mismatch.
    override open func tensorFromCheckpoint(key: String, _ tensor: Tensor) -> Tensor {
        let n = spatialAxes
        guard key == "weight", tensor.ndim == n + 2, tensor.dim(0) % groups == 0 else { return tensor }
        let (cin, coutPerGroup, kernel) = (tensor.dim(0), tensor.dim(1), Array(tensor.shape[2...]))
        return tensor.reshaped([groups, cin / groups, coutPerGroup] + kernel)
            .transposed([0, 2] + Array(3..<n + 3) + [1])
            .reshaped([groups * coutPerGroup] + kernel + [cin / groups])
    }

    override open func tensorToCheckpoint(key: String, _ tensor: Tensor) -> Tensor {
        let n = spatialAxes
        guard key == "weight", tensor.ndim == n + 2, tensor.dim(0) % groups == 0 else { return tensor }
        let (cout, kernel, cinPerGroup) = (tensor.dim(0), Array(tensor.shape[1...n]), tensor.dim(-1))
        return tensor.reshaped([groups, cout / groups] + kernel + [cinPerGroup])
            .transposed([0, n + 2, 1] + Array(2..<n + 2))
            .reshaped([groups * cinPerGroup, cout / groups] + kernel)
    }
}

public final class ConvTranspose1d: ConvolutionTransposed {
    public init(
        _ inputChannels: Int, _ outputChannels: Int, kernelSize: ConvolutionSize, stride: ConvolutionSize = 1,
        padding: ConvolutionSize = 0, outputPadding: ConvolutionSize = 0, dilation: ConvolutionSize = 1,
        groups: Int = 1, bias: Bool = true, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)
    ) {
        super.init(
            spatialAxes: 1, inputChannels, outputChannels, kernelSize: kernelSize, stride: stride,
            padding: padding, outputPadding: outputPadding, dilation: dilation, groups: groups, bias: bias,
            dtype: dtype, key: key)
    }
}

public final class ConvTranspose2d: ConvolutionTransposed {
    public init(
        _ inputChannels: Int, _ outputChannels: Int, kernelSize: ConvolutionSize, stride: ConvolutionSize = 1,
        padding: ConvolutionSize = 0, outputPadding: ConvolutionSize = 0, dilation: ConvolutionSize = 1,
        groups: Int = 1, bias: Bool = true, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)
    ) {
        super.init(
            spatialAxes: 2, inputChannels, outputChannels, kernelSize: kernelSize, stride: stride,
            padding: padding, outputPadding: outputPadding, dilation: dilation, groups: groups, bias: bias,
            dtype: dtype, key: key)
    }
}

public final class ConvTranspose3d: ConvolutionTransposed {
    public init(
        _ inputChannels: Int, _ outputChannels: Int, kernelSize: ConvolutionSize, stride: ConvolutionSize = 1,
        padding: ConvolutionSize = 0, outputPadding: ConvolutionSize = 0, dilation: ConvolutionSize = 1,
        groups: Int = 1, bias: Bool = true, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)
    ) {
        super.init(
            spatialAxes: 3, inputChannels, outputChannels, kernelSize: kernelSize, stride: stride,
            padding: padding, outputPadding: outputPadding, dilation: dilation, groups: groups, bias: bias,
            dtype: dtype, key: key)
    }
}
