import Engine

extension SchedulerConfig {
    /// The denoising loop of a video pipeline's `__call__` from `latents`: this scheduler set for `steps` steps (its
    /// shift, or `shift`), `velocity(x, t)` at each step's timesteps `[B]`, and with `scale` > 1 and an
    /// `unconditional` velocity the guided `v_u + scale · (v − v_u)`. Returns the final latents (diffusers'
    /// `output_type="latent"`).
    public func denoise(
        _ latents: Tensor, steps: Int, shift: Float?, scale: Float, progress: (Int, Int) -> Void,
        velocity: (Tensor, Tensor) -> Tensor, unconditional: ((Tensor, Tensor) -> Tensor)?
    ) -> Tensor {
        var schedule = scheduler(steps: steps, shiftOverride: shift)
        var x = latents.asType(.float32)
        let unconditional = scale > 1 ? unconditional : nil
        for i in 0..<steps {
            let t = Tensor.full([x.dim(0)], Double(schedule.timesteps[i]))
            var v = velocity(x, t)
            if let unconditional {
                let u = unconditional(x, t)
                v = u + scale * (v - u)
            }
            x = schedule.step(i, modelOutput: v, sample: x)
            eval(x)
            progress(i + 1, steps)
        }
        return x
    }
}
