import Engine
import NN

/// Per-sample conditioning of a policy, every tensor with the samples on axis 0 (text states, pooled embeddings,
/// masks, …). Models read the keys they need; the trainer only selects and repeats rows, so it stays model-agnostic.
public struct Conditioning: @unchecked Sendable {
    public var tensors: [String: Tensor]

    public init(_ tensors: [String: Tensor]) {
        precondition(
            Set(tensors.values.map { $0.dim(0) }).count <= 1,
            "Conditioning: tensors disagree on the sample count: \(tensors.mapValues(\.shape))")
        self.tensors = tensors
    }

    /// The number of samples (rows).
    public var count: Int { tensors.values.first?.dim(0) ?? 0 }

    public subscript(_ key: String) -> Tensor {
        guard let t = tensors[key] else {
            preconditionFailure("Conditioning: no '\(key)' (have \(tensors.keys.sorted()))")
        }
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

/// What GRPO trains: a denoising network whose output the `SamplingProcess` turns into transitions (a velocity for
/// flow-matching models, ε for Stable Diffusion's DDIM). The trainer differentiates through `modelOutput` with
/// respect to `module`'s trainable parameters.
public protocol DenoisingPolicy: AnyObject {
    /// The parameters being trained (the whole network, or only its LoRA adapters when the rest is frozen).
    var module: Module { get }
    /// The network output for latents `x [B, ...]`, network timesteps `[B]` in float32
    /// (`SamplingProcess.networkTimestep`: τ = trunc(1000σ) for flows, DDIM's integer t; each model scales them as
    /// its reference pipeline does), and conditioning with `B` rows.
    func modelOutput(_ x: Tensor, timesteps: Tensor, conditioning: Conditioning) -> Tensor
    /// The same output under the frozen reference policy (the initial weights, or the network with its LoRA
    /// adapters disabled), for the KL penalty (`UpdateConfig.beta`). Never evaluated when β = 0. The default throws
    /// `GRPOError.noReferencePolicy`; `ReferenceWeights` implements it for any module.
    func referenceOutput(_ x: Tensor, timesteps: Tensor, conditioning: Conditioning) throws -> Tensor
}

extension DenoisingPolicy {
    /// The default: no reference policy. Training with `UpdateConfig.beta > 0` then fails with this error.
    public func referenceOutput(_ x: Tensor, timesteps: Tensor, conditioning: Conditioning) throws -> Tensor {
        throw GRPOError.noReferencePolicy(String(describing: type(of: self)))
    }
}

public enum GRPOError: Error, CustomStringConvertible, Equatable {
    /// `beta > 0` with a policy that does not implement `referenceOutput`.
    case noReferencePolicy(String)

    public var description: String {
        switch self {
        case .noReferencePolicy(let type):
            return "the KL penalty (beta > 0) needs a reference policy, and \(type) does not implement referenceOutput "
                + "(keep a ReferenceWeights snapshot of the initial weights, or disable the LoRA adapters)"
        }
    }
}

/// A frozen copy of a module's trainable tensors, taken when created (before any update), for the KL penalty's
/// reference policy. Evaluating under it swaps the stored tensors in and restores the current ones afterwards, so it
/// costs no second model: the snapshot only keeps the tensors the optimizer would otherwise replace. With LoRA
/// (only the adapters trainable, `lora_B` initialised to zero) the snapshot's policy is the base model, which is
/// what Flow-GRPO's `disable_adapter()` evaluates. Under mixed precision the snapshot is kept in the compute dtype
/// (`dtype`): the reference is only ever evaluated, never trained, so it needs no float32 copy.
public final class ReferenceWeights {
    public let module: Module
    public let tensors: [String: Tensor]

    public init(snapshotOf module: Module, dtype: DType? = nil) {
        self.module = module
        tensors = Dictionary(
            uniqueKeysWithValues: module.trainableParameters().map { entry in
                (entry.key, dtype.map { entry.value.asType($0) } ?? entry.value)
            })
        // Evaluated now, so a cast snapshot does not keep the float32 tensors it was taken from alive.
        if dtype != nil { eval(Array(tensors.values)) }
    }

    /// Runs `body` with the reference tensors in the module; the result is detached from the current parameters.
    public func evaluate<T>(_ body: () throws -> T) rethrows -> T {
        let current = module.parameters().filter { tensors[$0.key] != nil }
        module.update(parameters: tensors)
        defer { module.update(parameters: current) }
        return try body()
    }
}

/// A policy whose reference is a ``ReferenceWeights`` snapshot of its own network: the reference output is
/// `modelOutput` evaluated under the snapshot, detached. Every model family's policy is one; without a snapshot
/// (`reference` nil) the KL penalty fails with `GRPOError.noReferencePolicy` as for any policy.
public protocol SnapshotReferencePolicy: DenoisingPolicy {
    /// The initial weights, for the KL penalty (nil without one).
    var reference: ReferenceWeights? { get }
}

extension SnapshotReferencePolicy {
    public func referenceOutput(_ x: Tensor, timesteps: Tensor, conditioning: Conditioning) throws -> Tensor {
        guard let reference else { throw GRPOError.noReferencePolicy(String(describing: type(of: self))) }
        return reference.evaluate { modelOutput(x, timesteps: timesteps, conditioning: conditioning).stopGradient() }
    }
}
