import Engine
import NN

/// Per-sample conditioning of a policy, every tensor with the samples on axis 0 (text states, pooled embeddings,
/// masks, …). Models read the keys they need; the trainer only selects and repeats rows, so it stays model-agnostic.
public struct Conditioning: @unchecked Sendable {
    public var tensors: [String: Tensor]

    public init(_ tensors: [String: Tensor]) {
        precondition(Set(tensors.values.map { $0.dim(0) }).count <= 1,
                     "Conditioning: tensors disagree on the sample count: \(tensors.mapValues(\.shape))")
        self.tensors = tensors
    }

    /// The number of samples (rows).
    public var count: Int { tensors.values.first?.dim(0) ?? 0 }

    public subscript(_ key: String) -> Tensor {
        guard let t = tensors[key] else { preconditionFailure("Conditioning: no '\(key)' (have \(tensors.keys.sorted()))") }
        return t
    }

    /// The given rows, in order.
    public func rows(_ indices: [Int]) -> Conditioning {
        let index = Tensor(indices.map(Int32.init))
        return Conditioning(tensors.mapValues { $0.take(index, axis: 0) })
    }

    /// Each row repeated `times` times consecutively ([p0, p0, …, p1, p1, …]), as GRPO groups are laid out.
    public func repeatingEachRow(_ times: Int) -> Conditioning {
        Conditioning(tensors.mapValues { $0.repeated(times, axis: 0) })
    }
}

/// What GRPO trains: a flow-matching network seen as a velocity field. The trainer differentiates through
/// `velocity` with respect to `module`'s trainable parameters.
public protocol FlowPolicy: AnyObject {
    /// The parameters being trained (the whole network, or only its LoRA adapters when the rest is frozen).
    var module: Module { get }
    /// v(x, τ) for latents `x [B, ...]`, network timesteps `[B]` as integer τ = trunc(1000σ) in float32 (each model
    /// scales them as its reference pipeline does), and conditioning with `B` rows.
    func velocity(_ x: Tensor, timesteps: Tensor, conditioning: Conditioning) -> Tensor
}
