import Engine
import GRPO
import NN

/// A small denoising network for the GRPO tests: an MLP on (x, t/1000, condition) over 12-value latents of any shape
/// ([B, 4, 3] for flows, channels-last [B, 2, 2, 3] for DDIM). Its output is v or ε as the chain reads it. `seed`
/// picks the two layers' initialisations (seed and seed + 1); `keepsReference` snapshots them as the KL reference.
/// It computes in the latents' dtype (t/1000 cast to it), so under `MixedPrecisionPolicy` the whole MLP runs in bf16.
final class ToyPolicy: Module, DenoisingPolicy {
    let inner: Linear
    let outer: Linear
    private var reference: ReferenceWeights?
    var module: Module { self }

    init(seed: UInt64 = 11, keepsReference: Bool = false) {
        inner = Linear(12 + 1 + 2, 32, key: RandomKey(seed: seed))
        outer = Linear(32, 12, key: RandomKey(seed: seed + 1))
        super.init()
        if keepsReference { reference = ReferenceWeights(snapshotOf: self) }
    }

    func modelOutput(_ x: Tensor, timesteps: Tensor, conditioning: Conditioning) -> Tensor {
        let b = x.dim(0)
        let features = concatenated(
            [x.reshaped([b, 12]), (timesteps / 1000).asType(x.dtype).expandedDims(axis: 1), conditioning["text"]],
            axis: 1)
        return outer(silu(inner(features))).reshaped(x.shape)
    }

    func referenceOutput(_ x: Tensor, timesteps: Tensor, conditioning: Conditioning) throws -> Tensor {
        guard let reference else { throw GRPOError.noReferencePolicy("ToyPolicy") }
        return reference.evaluate { modelOutput(x, timesteps: timesteps, conditioning: conditioning) }
    }
}
