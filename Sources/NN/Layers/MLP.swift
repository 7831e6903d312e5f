import Engine

/// Two linear layers with an activation between them, keys `fc1`, `fc2` (CLIP's and timm's `Mlp`):
/// `fc2(activation(fc1(x)))`.
public final class MLP: Module, UnaryLayer {
    public let fc1: Linear
    public let fc2: Linear
    public let activation: Activation

    public init(
        inputDimensions: Int, hiddenDimensions: Int, outputDimensions: Int? = nil,
        activation: Activation = .gelu, bias: Bool = true, dtype: DType = .float32,
        key: RandomKey = RandomKey(seed: 0)
    ) {
        let keys = key.split(into: 2)
        fc1 = Linear(inputDimensions, hiddenDimensions, bias: bias, dtype: dtype, key: keys[0])
        fc2 = Linear(hiddenDimensions, outputDimensions ?? inputDimensions, bias: bias, dtype: dtype, key: keys[1])
        self.activation = activation
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { fc2(activation(fc1(x))) }
}
