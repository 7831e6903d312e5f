import Engine

/// Inverted dropout: in training mode zeroes each element with probability `p` and scales the rest by 1/(1−p);
/// in evaluation mode (``Module/train(_:)`` false), and always when `p` is 0, the identity. Randomness is explicit:
/// the layer owns a key and advances it on every call, so a run is reproducible from its seed.
public final class Dropout: Module, UnaryLayer {
    public let probability: Float
    private var key: RandomKey

    public init(_ probability: Float = 0.5, key: RandomKey = RandomKey(seed: 0)) {
        precondition(probability >= 0 && probability < 1, "Dropout: probability must be in [0, 1), got \(probability)")
        self.probability = probability
        self.key = key
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        guard isTraining, probability > 0 else { return x }
        let (now, next) = key.split()
        key = next
        let keep = Random.uniform(x.shape, key: now) .>= probability
        return Tensor.where(keep, x / (1 - probability), Tensor.zeros([], dtype: x.dtype))
    }
}
