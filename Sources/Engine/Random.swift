internal import CMLXShim

/// A PRNG key (MLX's threefry key, a `uint32 [2]` tensor). Randomness in this package is always an argument:
/// there is no hidden global state, so the same keys give the same numbers on every run.
public struct RandomKey: @unchecked Sendable {
    public let tensor: Tensor

    public init(seed: UInt64) { tensor = checked("random.key", [], dg.randomKey(seed)) }
    /// A key restored from its tensor (as saved in a checkpoint).
    public init(tensor: Tensor) {
        precondition(
            tensor.shape == [2] && tensor.dtype == .uint32,
            "RandomKey: expected uint32 [2], got \(tensor.dtype) \(tensor.shape)")
        self.tensor = tensor
    }

    /// `count` independent keys derived from this one.
    public func split(into count: Int) -> [RandomKey] {
        let v = dg.randomSplit(tensor.raw, Int32(count))
        _ = checkStatus("random.split", [tensor])
        return tensors(of: v).map { RandomKey(tensor: $0.reshaped([2])) }
    }

    /// Two keys: one to use now, one to carry forward.
    public func split() -> (RandomKey, RandomKey) {
        let keys = split(into: 2)
        return (keys[0], keys[1])
    }
}

/// Random sampling with explicit keys.
public enum Random {
    /// Standard normal samples.
    public static func normal(_ shape: [Int], dtype: DType = .float32, key: RandomKey) -> Tensor {
        checked("random.normal", [], withInt32s(shape) { dg.randomNormal($0, $1, dtype.code, key.tensor.raw) })
    }
    /// Uniform samples in [0, 1).
    public static func uniform(_ shape: [Int], dtype: DType = .float32, key: RandomKey) -> Tensor {
        checked("random.uniform", [], withInt32s(shape) { dg.randomUniform($0, $1, dtype.code, key.tensor.raw) })
    }
    /// Uniform samples in [low, high).
    public static func uniform(_ shape: [Int], low: Float, high: Float, dtype: DType = .float32, key: RandomKey)
        -> Tensor
    {
        uniform(shape, dtype: dtype, key: key) * (high - low) + low
    }
    /// Raw 32-bit random words.
    public static func bits(_ shape: [Int], key: RandomKey) -> Tensor {
        checked("random.bits", [], withInt32s(shape) { dg.randomBits($0, $1, key.tensor.raw) })
    }
    /// A random permutation of `0 ..< n`.
    public static func permutation(_ n: Int, key: RandomKey) -> Tensor {
        checked("random.permutation", [], dg.randomPermutation(Int32(n), key.tensor.raw))
    }
    /// Samples category indices from unnormalised log-probabilities along `axis`.
    public static func categorical(logits: Tensor, axis: Int = -1, key: RandomKey) -> Tensor {
        checked("random.categorical", [logits], dg.randomCategorical(logits.raw, Int32(axis), key.tensor.raw))
    }
}
