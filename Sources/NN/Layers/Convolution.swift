import Engine

// Convolution layers. They compute channels-last, as the engine does: input `[N, *spatial, C_in]`, output
// `[N, *spatial', C_out]` (Conv1d [N, L, C], Conv2d [N, H, W, C], Conv3d [N, D, H, W, C]). Weights are held as
// `[C_out, *kernel, C_in / groups]`, but the keys and the tensors of checkpoints keep PyTorch's layout
// (`weight [C_out, C_in / groups, *kernel]`; transposed: `[C_in, C_out / groups, *kernel]`): the layers convert in
// the ``Module`` checkpoint hooks, so `load` takes a torch state dict as it is and `checkpointTensors()` gives one.

/// A size given once for every spatial axis (`3`) or per axis (`[3, 1]`).
public protocol ConvolutionSize {
    func values(_ axes: Int) -> [Int]
}
extension Int: ConvolutionSize {
    public func values(_ axes: Int) -> [Int] { Array(repeating: self, count: axes) }
}
extension Array: ConvolutionSize where Element == Int {
    public func values(_ axes: Int) -> [Int] {
        precondition(count == axes, "convolution: \(self) gives \(count) sizes for \(axes) spatial axes")
        return self
    }
}

/// Padding of a convolution: explicit per-axis amounts (both sides), or PyTorch's `"same"` / `"valid"`.
public enum ConvolutionPadding: Sendable, ExpressibleByIntegerLiteral, ExpressibleByArrayLiteral {
    case explicit([Int])
    /// Output as long as the input (stride 1); odd total padding puts the extra element after, as PyTorch does.
    case same
    case valid

    public init(integerLiteral value: Int) { self = .explicit([value]) }
    public init(arrayLiteral elements: Int...) { self = .explicit(elements) }

    /// Padding before and after each axis.
    func amounts(kernel: [Int], dilation: [Int]) -> (low: [Int], high: [Int]) {
        let n = kernel.count
        switch self {
        case .valid: return (Array(repeating: 0, count: n), Array(repeating: 0, count: n))
        case .explicit(let p):
            let values = p.count == 1 ? Array(repeating: p[0], count: n) : p.values(n)
            return (values, values)
        case .same:
            let total = zip(kernel, dilation).map { ($1 * ($0 - 1)) }
            return (total.map { $0 / 2 }, total.map { $0 - $0 / 2 })
        }
    }
}

/// N-dimensional convolution (`torch.nn.ConvNd`): keys `weight`, `bias`.
open class Convolution: Module, UnaryLayer {
    @Param public var weight: Tensor
    @Param public var bias: Tensor?
    public let stride: [Int]
    public let padding: ConvolutionPadding
    public let dilation: [Int]
    public let groups: Int

    public var spatialAxes: Int { weight.ndim - 2 }
    public var kernelSize: [Int] { Array(weight.shape[1..<weight.ndim - 1]) }

    /// PyTorch's initialisation: weight and bias uniform in ±1/sqrt(fan-in), fan-in = C_in / groups · kernel size.
    public init(
        spatialAxes n: Int, _ inputChannels: Int, _ outputChannels: Int, kernelSize: ConvolutionSize,
        stride: ConvolutionSize = 1, padding: ConvolutionPadding = 0, dilation: ConvolutionSize = 1,
        groups: Int = 1, bias: Bool = true, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)
    ) {
        precondition(
            inputChannels % groups == 0 && outputChannels % groups == 0,
            "Conv\(n)d: channels \(inputChannels) → \(outputChannels) do not split into \(groups) groups")
        let kernel = kernelSize.values(n)
        let strides = stride.values(n)
        if case .same = padding {
            precondition(strides.allSatisfy { $0 == 1 }, "Conv\(n)d: padding 'same' needs stride 1, got \(strides)")
        }
        let fanIn = inputChannels / groups * kernel.reduce(1, *)
        let bound = 1 / Float(fanIn).squareRoot()
        let keys = key.split(into: 2)
        weight = Random.uniform(
            [outputChannels] + kernel + [inputChannels / groups], low: -bound, high: bound,
            key: keys[0]
        ).asType(dtype)
        self.bias = bias ? Random.uniform([outputChannels], low: -bound, high: bound, key: keys[1]).asType(dtype) : nil
        self.stride = strides
        self.padding = padding
        self.dilation = dilation.values(n)
        self.groups = groups
        super.init()
    }

    open func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(
            x.ndim == spatialAxes + 2 && x.dim(-1) == weight.dim(-1) * groups,
            "Conv\(spatialAxes)d: expected channels-last input [N, *\(spatialAxes) spatial, "
                + "\(weight.dim(-1) * groups)], got \(x.shape)")
        let (low, high) = padding.amounts(kernel: kernelSize, dilation: dilation)
        let y = convolution(
            x, weight, stride: stride, padding: low, paddingHigh: high, dilation: dilation, groups: groups)
        return bias.map { y + $0 } ?? y
    }

    // [C_out, C_in/g, *K] on disk ⇄ [C_out, *K, C_in/g] here. A tensor of the wrong rank passes unchanged so
    // that loading reports it as a shape mismatch.
    override open func tensorFromCheckpoint(key: String, _ tensor: Tensor) -> Tensor {
        guard key == "weight", tensor.ndim == spatialAxes + 2 else { return tensor }
        return tensor.transposed([0] + Array(2..<tensor.ndim) + [1])
    }

    override open func tensorToCheckpoint(key: String, _ tensor: Tensor) -> Tensor {
        guard key == "weight", tensor.ndim == spatialAxes + 2 else { return tensor }
        return tensor.transposed([0, tensor.ndim - 1] + Array(1..<tensor.ndim - 1))
    }
}

public final class Conv1d: Convolution {
    public init(
        _ inputChannels: Int, _ outputChannels: Int, kernelSize: ConvolutionSize, stride: ConvolutionSize = 1,
        padding: ConvolutionPadding = 0, dilation: ConvolutionSize = 1, groups: Int = 1, bias: Bool = true,
        dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)
    ) {
        super.init(
            spatialAxes: 1, inputChannels, outputChannels, kernelSize: kernelSize, stride: stride,
            padding: padding, dilation: dilation, groups: groups, bias: bias, dtype: dtype, key: key)
    }
}

public final class Conv2d: Convolution {
    public init(
        _ inputChannels: Int, _ outputChannels: Int, kernelSize: ConvolutionSize, stride: ConvolutionSize = 1,
        padding: ConvolutionPadding = 0, dilation: ConvolutionSize = 1, groups: Int = 1, bias: Bool = true,
        dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)
    ) {
        super.init(
            spatialAxes: 2, inputChannels, outputChannels, kernelSize: kernelSize, stride: stride,
            padding: padding, dilation: dilation, groups: groups, bias: bias, dtype: dtype, key: key)
    }
}

public final class Conv3d: Convolution {
    public init(
        _ inputChannels: Int, _ outputChannels: Int, kernelSize: ConvolutionSize, stride: ConvolutionSize = 1,
        padding: ConvolutionPadding = 0, dilation: ConvolutionSize = 1, groups: Int = 1, bias: Bool = true,
        dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)
    ) {
        super.init(
            spatialAxes: 3, inputChannels, outputChannels, kernelSize: kernelSize, stride: stride,
            padding: padding, dilation: dilation, groups: groups, bias: bias, dtype: dtype, key: key)
    }
}
