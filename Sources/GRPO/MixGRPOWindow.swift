import Sampling

/// MixGRPO's sliding SDE window (Tencent-Hunyuan/MixGRPO, `--training_strategy part --sample_strategy progressive`;
/// schedule of `fastvideo/utils/grpo_states.py` `GRPOTrainingStates`, sampling in `fastvideo/utils/sampling_utils.py`):
/// the steps inside the window are sampled with an SDE and trained, the others are deterministic ODE steps.
///
/// The window at training iteration k (0-based; MixGRPO reads it before `update_iteration`) is
/// `start(k) ..< min(start(k) + windowSize, T − 2)` with `start(k) = ⌊k / itersPerShift⌋ · stride`:
/// - `stride` is `--group_size` (the window size) by default, or `--prog_overlap_step` with `--prog_overlap`;
/// - `itersPerShift` is `--iters_per_group` (the paper's shift interval τ);
/// - the upper bound T − 2 is MixGRPO's `max_timesteps = sampling_steps - 2`, so the last two transitions are never
///   in the window (the last one is never trained anyway: DanceGRPO drops it from its samples,
///   https://github.com/XueZeyue/DanceGRPO/blob/22b85efe5312089f07c027d5ba94db168656c9dc/fastvideo/train_grpo_flux.py#L528
///   );
/// - past the end, the start is clamped to T − 2, which leaves the window **empty** (every step ODE, nothing trained)
///   as in the reference, unless `rollBack` (`--roll_back`) restarts it at 0;
/// - `itersPerShift` 0 (not in MixGRPO) keeps the window on the first `windowSize` steps for the whole run: noise and
///   training only where composition is decided, one deterministic path from there to the image.
/// The schedule is a pure function of k, so a resumed run gets the same windows.
/// Not ported: the "random", "decay" and "exp_decay" strategies and MixGRPO-Flash's DPM-Solver++ outside the window.
public struct MixGRPOWindow: Sendable, Equatable, Codable {
    /// Sampling steps T.
    public var steps: Int
    /// SDE steps per window (`--group_size`, default 4).
    public var windowSize: Int
    /// How far the window moves at each shift (`--group_size` without overlap, `--prog_overlap_step` with it).
    public var stride: Int
    /// Iterations between shifts (`--iters_per_group`, default 25); 0: the window never moves.
    public var itersPerShift: Int
    /// Restart at step 0 after the last window (`--roll_back`).
    public var rollBack: Bool
    /// The sampler inside the window (MixGRPO's `--flow_grpo_sampling` uses Flow-SDE with noise level η).
    public var sampler: FlowSampler

    public init(
        steps: Int, windowSize: Int = 4, stride: Int? = nil, itersPerShift: Int = 25, rollBack: Bool = false,
        sampler: FlowSampler = .flowSDE(noiseLevel: 0.7)
    ) {
        precondition(steps >= 3, "MixGRPOWindow: needs at least 3 steps, got \(steps)")
        precondition(
            windowSize >= 1 && itersPerShift >= 0 && (stride ?? 1) >= 1, "MixGRPOWindow: sizes must be positive")
        precondition(sampler.isStochastic, "MixGRPOWindow: the window's sampler must be stochastic")
        self.steps = steps
        self.windowSize = windowSize
        self.stride = stride ?? windowSize
        self.itersPerShift = itersPerShift
        self.rollBack = rollBack
        self.sampler = sampler
    }

    /// MixGRPO's `max_timesteps`: the first step index the window never reaches.
    public var maxStep: Int { steps - 2 }

    /// The window's first step at iteration `iteration`.
    public func start(iteration: Int) -> Int {
        precondition(iteration >= 0, "MixGRPOWindow: negative iteration")
        guard itersPerShift > 0 else { return 0 }
        let shifts = iteration / itersPerShift
        if rollBack {
            // Starts 0, stride, … up to the last one ≤ maxStep, then back to 0.
            let period = maxStep / stride + 1
            return (shifts % period) * stride
        }
        return Swift.min(shifts * stride, maxStep)
    }

    /// The SDE (trained) steps at `iteration`.
    public func window(iteration: Int) -> Range<Int> {
        let s = start(iteration: iteration)
        return s..<Swift.max(s, Swift.min(s + windowSize, maxStep))
    }

    /// One sampler per step: `sampler` inside the window, `.ode` outside (`FlowProcess(steps:shift:sampler:plan:)`).
    public func plan(iteration: Int) -> [FlowSampler] {
        let w = window(iteration: iteration)
        return (0..<steps).map { w.contains($0) ? sampler : .ode }
    }
}
