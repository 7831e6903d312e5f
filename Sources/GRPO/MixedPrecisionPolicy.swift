import Engine
import NN

/// A policy computing in bf16 or fp16 from float32 master weights (`--mixed-precision`), as the seed's FSDP
/// mixed-precision policy: its parameters are cast for each pass (``ComputePrecision/withParameters(of:_:)``; inside
/// `updatePolicy`'s differentiated function they already are), the latents and the conditioning are cast to the
/// compute dtype, and the output comes back in float32, so the sampler's step and its log-probabilities stay float32.
/// Timesteps are passed as given: each model casts them as its reference does (FLUX to the hidden states' dtype as
/// diffusers does, the UNet's sinusoidal embedding in float32), since bf16 cannot hold every integer timestep.
public final class MixedPrecisionPolicy: DenoisingPolicy {
    public let base: DenoisingPolicy
    public let precision: ComputePrecision

    public init(_ base: DenoisingPolicy, computeDType: DType) {
        self.base = base
        precision = ComputePrecision(computeDType)
    }

    public var module: Module { base.module }

    public func modelOutput(_ x: Tensor, timesteps: Tensor, conditioning: Conditioning) -> Tensor {
        precision.withParameters(of: module) {
            base.modelOutput(precision.cast(x), timesteps: timesteps, conditioning: cast(conditioning))
                .asType(.float32)
        }
    }

    public func referenceOutput(_ x: Tensor, timesteps: Tensor, conditioning: Conditioning) throws -> Tensor {
        try precision.withParameters(of: module) {
            try base.referenceOutput(precision.cast(x), timesteps: timesteps, conditioning: cast(conditioning))
                .asType(.float32)
        }
    }

    private func cast(_ conditioning: Conditioning) -> Conditioning {
        Conditioning(conditioning.tensors.mapValues(precision.cast))
    }
}
