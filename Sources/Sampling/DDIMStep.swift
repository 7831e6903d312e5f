import Engine
import Foundation

// One DDIM step x_t → x_{t_prev} with the Gaussian log-likelihood of the transition, for GRPO on Stable Diffusion.
// Port of ddpo-pytorch ddpo_pytorch/diffusers_patch/ddim_with_logprob.py `ddim_step_with_logprob` (the file
// DanceGRPO copies as fastvideo/models/stable_diffusion/ddim_with_logprob.py):
// https://github.com/kvablack/ddpo-pytorch/blob/1958463f020112c9a7bc85768d296daacc2e1b4b/ddpo_pytorch/diffusers_patch/ddim_with_logprob.py#L39
// Deliberate deviations: the result stays float32 (the reference casts the next latent back to the input dtype, bf16
// in DanceGRPO, so its first ratio is not exactly 1; see the link below); with η = 0 the log-prob is zero instead
// of NaN.
// https://github.com/XueZeyue/DanceGRPO/blob/22b85efe5312089f07c027d5ba94db168656c9dc/fastvideo/models/stable_diffusion/ddim_with_logprob.py#L187
//
// Shapes: modelOutput, sample, noise, previousSample [B, ...] (any layout: the formulas are element-wise);
// timesteps one per sample or one for all; log-prob [B] (mean over every non-batch element).

/// What one DDIM step returns.
public struct DDIMStepOutput {
    /// x_{t_prev}: drawn, or the given one when scoring a stored trajectory.
    public let sample: Tensor
    /// x̂0 (after `clip_sample`, when the config asks for it).
    public let predictedOriginal: Tensor
    /// The Gaussian mean of x_{t_prev}: √ᾱ_prev·x̂0 + √(1 − ᾱ_prev − std²)·ε̂.
    public let mean: Tensor
    /// Per-sample mean over elements of log N(x_{t_prev}; mean, std²), [B]; zeros when η = 0.
    public let logProb: Tensor
    /// The transition's standard deviation η·σ_t per sample.
    public let std: [Float]
}

/// Takes the DDIM step from `sample` at `timesteps` with the network output `modelOutput` (ε, v or x0 after
/// classifier-free guidance, as the config's `prediction_type` says):
/// - t_prev = clamp(t − T/n, 0, T−1) (``DDIMScheduler/previousTimestep(_:)``), ᾱ_t, ᾱ_prev;
/// - x̂0 and ε̂ from the prediction (epsilon: x̂0 = (x − √(1−ᾱ_t)·ε)/√ᾱ_t), x̂0 clipped to
///   ±`clip_sample_range` when `clip_sample`;
/// - σ_t² = (1−ᾱ_prev)/(1−ᾱ_t)·(1 − ᾱ_t/ᾱ_prev), std = η·σ_t;
/// - mean = √ᾱ_prev·x̂0 + √(1 − ᾱ_prev − std²)·ε̂;
/// - x_prev = `previousSample` if given (training re-scores a stored trajectory with this same function, so rollout
///   and training log-probs cannot drift apart), else mean + std·`noise`;
/// - log-prob = mean over non-batch elements of −(x_prev − mean)²/(2 std²) − log std − log √(2π), with
///   x_prev detached, so gradients reach the network only through the mean.
/// Everything is computed in float32 whatever the inputs' dtype. Pass one timestep for the whole batch or one per
/// sample (DDPO-style training batches mix timesteps).
public func ddimStep(
    _ scheduler: DDIMScheduler, modelOutput: Tensor, timesteps: [Int], sample: Tensor, eta: Float,
    previousSample: Tensor? = nil, noise: Tensor? = nil
) -> DDIMStepOutput {
    let batch = sample.dim(0)
    precondition(
        modelOutput.shape == sample.shape,
        "ddimStep: model output \(modelOutput.shape) and sample \(sample.shape) differ in shape")
    precondition(
        timesteps.count == 1 || timesteps.count == batch,
        "ddimStep: \(timesteps.count) timesteps for \(batch) samples (give one, or one per sample)")
    precondition(eta >= 0, "ddimStep: eta \(eta) must be non-negative")
    let perSample = timesteps.count == 1 ? Array(repeating: timesteps[0], count: batch) : timesteps

    // Per-sample scalars, in float32 like the reference's tables.
    let alpha = perSample.map { scheduler.alphaCumprod($0) }
    let alphaPrev = perSample.map { scheduler.alphaCumprod(scheduler.previousTimestep($0)) }
    let std = zip(alpha, alphaPrev).map { a, p in eta * ((1 - p) / (1 - a) * (1 - a / p)).squareRoot() }
    // Broadcast [B] → [B, 1, …, 1] over the sample's other axes.
    let column = [batch] + Array(repeating: 1, count: Swift.max(sample.ndim - 1, 0))
    func tensor(_ values: [Float]) -> Tensor { Tensor(values, shape: column) }

    let x = sample.asType(.float32), output = modelOutput.asType(.float32)
    let sqrtAlpha = tensor(alpha.map { $0.squareRoot() }), sqrtBeta = tensor(alpha.map { (1 - $0).squareRoot() })
    var predictedOriginal: Tensor, predictedEpsilon: Tensor
    switch scheduler.config.predictionType {
    case .epsilon:
        predictedOriginal = (x - sqrtBeta * output) / sqrtAlpha
        predictedEpsilon = output
    case .vPrediction:
        predictedOriginal = sqrtAlpha * x - sqrtBeta * output
        predictedEpsilon = sqrtAlpha * output + sqrtBeta * x
    case .sample:
        predictedOriginal = output
        predictedEpsilon = (x - sqrtAlpha * predictedOriginal) / sqrtBeta
    }
    if scheduler.config.clipSample {
        let range = scheduler.config.clipSampleRange
        predictedOriginal = predictedOriginal.clipped(min: -range, max: range)
    }
    // √(1 − ᾱ_prev − std²) ≥ 0 for η ≤ 1; the clamp only keeps rounding (or η > 1) from producing a NaN.
    let direction = tensor(zip(alphaPrev, std).map { p, s in Swift.max(1 - p - s * s, 0).squareRoot() })
    let mean = tensor(alphaPrev.map { $0.squareRoot() }) * predictedOriginal + direction * predictedEpsilon

    let next: Tensor
    if let previousSample {
        precondition(
            previousSample.shape == sample.shape,
            "ddimStep: previous sample \(previousSample.shape) differs from the sample's shape \(sample.shape)")
        next = previousSample.asType(.float32)
    } else if eta == 0 {
        next = mean
    } else {
        guard let noise else {
            preconditionFailure("ddimStep: a stochastic step (eta > 0) needs noise or previousSample")
        }
        precondition(
            noise.shape == sample.shape,
            "ddimStep: noise \(noise.shape) differs from the sample's shape \(sample.shape)")
        next = mean + tensor(std) * noise.asType(.float32)
    }
    let logProb =
        eta == 0 ? Tensor.zeros([batch]) : gaussianLogProbMean(next.stopGradient(), mean: mean, std: tensor(std))
    return DDIMStepOutput(sample: next, predictedOriginal: predictedOriginal, mean: mean, logProb: logProb, std: std)
}

/// log N(x; mean, std²) per element with a per-sample `std` broadcastable to x ([B, 1, …, 1]), averaged over all
/// non-batch axes: [B].
public func gaussianLogProbMean(_ x: Tensor, mean: Tensor, std: Tensor) -> Tensor {
    let perElement = -(x - mean).square() / (2 * std.square()) - std.log() - 0.5 * Foundation.log(2 * Float.pi)
    let axes = Array(1..<Swift.max(perElement.ndim, 1))
    return axes.isEmpty ? perElement : perElement.mean(axes: axes)
}
