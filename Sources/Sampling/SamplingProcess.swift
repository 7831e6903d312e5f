import Engine

// The denoising chain GRPO treats as an MDP: its steps, the timestep the network sees at each, and the
// Gaussian transition with its log-probability. Rollout and training only talk to this protocol, so the flow-matching
// models (velocity, σ schedule, Dance/Flow-GRPO SDEs) and Stable Diffusion (ε-prediction, DDIM with η) share one
// rollout, one update and one trainer.

/// One transition of a sampling process, whatever the model family.
public struct TransitionOutput {
    /// The next latent: drawn, or the given one when a stored trajectory is rescored.
    public let sample: Tensor
    /// The clean-sample prediction x̂0 at this step.
    public let predictedOriginal: Tensor
    /// The Gaussian mean of the next latent (what the KL penalty compares).
    public let mean: Tensor
    /// Per-sample mean over elements of the transition's log-density, [B]; zeros for deterministic steps.
    public let logProb: Tensor
    /// The scale the KL penalty divides by (`FlowStepOutput.noiseScale`; the DDIM step's std); 0 when deterministic.
    public let noiseScale: Float

    public init(sample: Tensor, predictedOriginal: Tensor, mean: Tensor, logProb: Tensor, noiseScale: Float) {
        self.sample = sample
        self.predictedOriginal = predictedOriginal
        self.mean = mean
        self.logProb = logProb
        self.noiseScale = noiseScale
    }
}

/// A T-step sampler seen by GRPO.
public protocol SamplingProcess: Sendable {
    /// T, the number of transitions.
    var steps: Int { get }
    /// The network's timestep input at step i (DanceGRPO's trunc(1000σ) for flows, the integer t for DDIM).
    func networkTimestep(_ i: Int) -> Float
    /// Whether step i draws noise; only such transitions have a log-probability and can be trained.
    func isStochastic(_ i: Int) -> Bool
    /// Takes step i from `sample` given the network output (after guidance). With `nextSample` the transition is
    /// scored instead of drawn, with the same arithmetic, so rollout and training log-probs cannot drift apart;
    /// otherwise stochastic steps need `noise` shaped like the sample.
    func transition(_ i: Int, modelOutput: Tensor, sample: Tensor, nextSample: Tensor?, noise: Tensor?)
        -> TransitionOutput
    /// What the rollout hands to the decoder after the last step: x̂0 of the last step for flows, the final sample
    /// for DDIM, as each reference does (DanceGRPO's FLUX rollout decodes `pred_original`, linked below).
    /// https://github.com/XueZeyue/DanceGRPO/blob/22b85efe5312089f07c027d5ba94db168656c9dc/fastvideo/train_grpo_flux.py#L260
    func decodedLatent(lastStep: TransitionOutput) -> Tensor
}

/// A flow-matching sampler: the time-shifted σ schedule and one `FlowSampler` per step (a mixed plan for MixGRPO).
public struct FlowProcess: SamplingProcess, Equatable {
    public let schedule: SigmaSchedule
    public let samplers: [FlowSampler]

    public init(schedule: SigmaSchedule, samplers: [FlowSampler]) {
        precondition(
            samplers.count == schedule.steps, "FlowProcess: \(samplers.count) samplers for \(schedule.steps) steps")
        self.schedule = schedule
        self.samplers = samplers
    }

    /// `steps` steps with shift `shift`, every step `sampler` unless a per-step `plan` is given.
    public init(steps: Int, shift: Float, sampler: FlowSampler, plan: [FlowSampler]? = nil) {
        self.init(
            schedule: SigmaSchedule(steps: steps, shift: shift),
            samplers: plan ?? [FlowSampler](repeating: sampler, count: steps))
    }

    public var steps: Int { schedule.steps }
    public func networkTimestep(_ i: Int) -> Float { Float(schedule.timesteps[i]) }
    public func isStochastic(_ i: Int) -> Bool { samplers[i].isStochastic }

    public func transition(_ i: Int, modelOutput: Tensor, sample: Tensor, nextSample: Tensor?, noise: Tensor?)
        -> TransitionOutput
    {
        let out = flowStep(
            samplers[i], velocity: modelOutput, sample: sample, sigma: schedule.sigmas[i],
            sigmaNext: schedule.sigmas[i + 1], nextSample: nextSample, noise: noise)
        return TransitionOutput(
            sample: out.sample, predictedOriginal: out.predictedOriginal, mean: out.mean,
            logProb: out.logProb, noiseScale: out.noiseScale)
    }

    public func decodedLatent(lastStep: TransitionOutput) -> Tensor { lastStep.predictedOriginal }
}

/// DDPO-style DDIM sampling for ε/v-prediction UNets: the scheduler's inference timesteps, η for every step
/// (η = 0 makes the chain deterministic: evaluation).
public struct DDIMProcess: SamplingProcess, Equatable {
    public let scheduler: DDIMScheduler
    public let eta: Float

    public init(scheduler: DDIMScheduler, eta: Float) {
        precondition(eta >= 0, "DDIMProcess: eta \(eta) must be non-negative")
        self.scheduler = scheduler
        self.eta = eta
    }

    public var steps: Int { scheduler.steps }
    public func networkTimestep(_ i: Int) -> Float { Float(scheduler.timesteps[i]) }
    public func isStochastic(_ i: Int) -> Bool { eta > 0 }

    public func transition(_ i: Int, modelOutput: Tensor, sample: Tensor, nextSample: Tensor?, noise: Tensor?)
        -> TransitionOutput
    {
        let out = ddimStep(
            scheduler, modelOutput: modelOutput, timesteps: [scheduler.timesteps[i]], sample: sample, eta: eta,
            previousSample: nextSample, noise: noise)
        return TransitionOutput(
            sample: out.sample, predictedOriginal: out.predictedOriginal, mean: out.mean,
            logProb: out.logProb, noiseScale: out.std.first ?? 0)
    }

    public func decodedLatent(lastStep: TransitionOutput) -> Tensor { lastStep.sample }
}
