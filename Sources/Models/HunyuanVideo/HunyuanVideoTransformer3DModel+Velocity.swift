import Engine

extension HunyuanVideoTransformer3DModel {
    /// The velocity for latents `[B, C_in, f, h, w]` (SkyReels' with the image latents on the channel axis),
    /// timesteps `[B]` on the scheduler's 0…1000 scale and the embedded guidance `[B]` as the pipelines pass it
    /// (`guidance_scale · 1000`), computed in the weights' dtype and returned in float32.
    public func velocity(
        _ x: Tensor, timesteps: Tensor, conditioning c: HunyuanVideoPipeline.Conditioning, guidance: Tensor
    ) -> Tensor {
        let dtype = projOut.weight.dtype
        return self(
            hiddenStates: x.asType(dtype), timestep: timesteps, encoderHiddenStates: c.promptEmbeds.asType(dtype),
            encoderAttentionMask: c.attentionMask, pooledProjections: c.pooledPromptEmbeds.asType(dtype),
            guidance: guidance
        ).asType(.float32)
    }
}
