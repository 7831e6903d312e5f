import Engine

/// The VAE's posterior over latents (diffusers' `DiagonalGaussianDistribution`): an independent normal per latent
/// element. Tensors are channels-last, `[N, h, w, latent_channels]`, for ``AutoencoderKL``; ``AutoencoderKLWan``'s are
/// diffusers' channels-first videos, `[B, z_dim, f, h, w]`.
public struct DiagonalGaussian {
    public let mean: Tensor
    /// Clamped to [−30, 20] as diffusers does, so `exp` stays finite.
    public let logvar: Tensor

    /// Splits the encoder's moments (`[N, h, w, 2·C]` with the channel `axis` last) into mean (first C channels) and
    /// log-variance (last C), as diffusers' `torch.chunk(parameters, 2, dim=1)` does on the channel axis.
    public init(moments: Tensor, axis: Int = -1) {
        let halves = moments.split(parts: 2, axis: axis)
        mean = halves[0]
        logvar = halves[1].clipped(min: -30, max: 20)
    }

    public var std: Tensor { (logvar * 0.5).exp() }
    public var variance: Tensor { logvar.exp() }

    /// `mean + std · ε`, ε ~ N(0, 1) drawn from `key` (diffusers' `sample(generator)`; the draws differ from
    /// torch's).
    public func sample(key: RandomKey) -> Tensor {
        mean + std * Random.normal(mean.shape, dtype: mean.dtype, key: key)
    }

    /// The most likely latent, the mean (diffusers' `mode()`, what `retrieve_latents(sample_mode="argmax")` takes).
    public func mode() -> Tensor { mean }
}
