import Engine

/// `y = x Wᵀ + b` with PyTorch's layout: `weight [out, in]`, `bias [out]` (keys `weight`, `bias`).
/// Optionally carries a LoRA adapter (see `LoRA.swift`), whose tensors appear as `lora_A.weight`/`lora_B.weight`
/// under this layer's key, the PEFT layout.
open class Linear: Module, UnaryLayer {
    @Param public var weight: Tensor
    @Param public var bias: Tensor?

    /// The attached low-rank adapter, if any (``attachLoRA(rank:alpha:key:)``).
    public internal(set) var lora: LoRAAdapter?

    public var inputFeatures: Int { weight.dim(1) }
    public var outputFeatures: Int { weight.dim(0) }

    /// PyTorch's default initialisation: uniform in ±1/sqrt(in).
    public init(
        _ inputFeatures: Int, _ outputFeatures: Int, bias: Bool = true, dtype: DType = .float32, key: RandomKey? = nil
    ) {
        let bound = 1 / Float(inputFeatures).squareRoot()
        let keys = (key ?? RandomKey(seed: 0)).split(into: 2)
        weight = Random.uniform([outputFeatures, inputFeatures], low: -bound, high: bound, key: keys[0]).asType(dtype)
        self.bias = bias ? Random.uniform([outputFeatures], low: -bound, high: bound, key: keys[1]).asType(dtype) : nil
        super.init()
    }

    public init(weight: Tensor, bias: Tensor? = nil) {
        self.weight = weight
        self.bias = bias
        super.init()
    }

    open func callAsFunction(_ x: Tensor) -> Tensor {
        // Leading axes folded into the rows: one matrix product forward and, for the weight's gradient, one
        // xᵀ·g over all rows instead of a product per batch entry summed afterwards (the engine's gradient of a
        // batched-by-matrix product), which cost a [B, in, out] temporary and a reduction per layer.
        guard x.ndim > 2 else { return project(x) }
        let rows = x.reshaped([-1, x.dim(-1)])
        return project(rows).reshaped(Array(x.shape.dropLast()) + [outputFeatures])
    }

    private func project(_ x: Tensor) -> Tensor {
        let base = bias.map { $0.addmm(x, weight.T) } ?? x.matmul(weight.T)
        guard let lora, !lora.isMerged else { return base }
        return base + lora.delta(x).asType(base.dtype)
    }

    /// The adapter's two matrices are children keyed as PEFT saves them, directly under this layer's key.
    override public func children() -> [(key: String, module: Module)] {
        var result = super.children()
        if let lora { result += [("lora_A", lora.down), ("lora_B", lora.up)] }
        return result
    }
}

/// A layer with one input and one output.
public protocol UnaryLayer: AnyObject {
    func callAsFunction(_ x: Tensor) -> Tensor
}
