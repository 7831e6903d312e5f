import Engine
import Foundation

// diffusers' `UniPCMultistepScheduler` with flow sigmas, as Wan-2.1's folders ship it (`use_flow_sigmas`,
// `flow_prediction`, `flow_shift` 3 or 5, order 2, bh2, `predict_x0`, `lower_order_final`, final σ = 0): the UniP
// predictor and UniC corrector of Zhao et al. 2023 (https://arxiv.org/abs/2302.04867) on the data prediction x̂0.
// Port of https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/schedulers/scheduling_unipc_multistep.py
// (`set_timesteps` flow branch, `convert_model_output`, `multistep_uni_p_bh_update`, `multistep_uni_c_bh_update`,
// `step`).
// Deliberate deviations:
// - the multistep history lives in ``UniPCMultistepScheduler/State``, a value the caller owns, instead of in the
//   scheduler object, so a run is deterministic, restartable from any saved state, and the scheduler is immutable;
// - steps are addressed by index (diffusers finds the index from the timestep value on the first call);
// - the tensors are stepped in float32 (diffusers steps in the latents' dtype, float32 in WanPipeline); its scalar
//   coefficients are computed in float32 as diffusers does, and its small linear solves (order ≥ 3) in float64;
// - only flow sigmas with predict_x0 are implemented; configs asking for more are refused by
//   ``Config/problems()``, as are the combinations that produce NaN in diffusers (bh1, or `lower_order_final`
//   false, with a final σ = 0).
// Notation: α = 1 − σ, λ = log α − log σ (flow sigmas), h = λ_t − λ_s0, and with predict_x0 the
// update runs in −h, so h·φ₁ = e^{−h} − 1, and B(h) = e^{−h} − 1 (bh2) or −h (bh1).
//
// Shapes: sample, model output [B, ...] (B = samples; any trailing layout, e.g. Wan's [B, C, F, H, W]).

/// A flow-matching UniPC sampler set for `steps` steps: the noise levels, the network timesteps, and the step.
public struct UniPCMultistepScheduler: Sendable, Equatable {
    public let config: Config
    /// T + 1 noise levels (float32, as diffusers keeps them): the shifted grid with σ_0 = 1 − 1e-6, then 0 (or the
    /// last σ again with `final_sigmas_type` sigma_min).
    public let sigmas: [Float]
    /// T network timesteps trunc(σ·num_train_timesteps), from the float64 sigmas (diffusers' int64 timesteps).
    public let timesteps: [Int]

    public var steps: Int { timesteps.count }

    /// What the caller keeps between steps: the multistep history of x̂0 predictions and the last predictor's
    /// input. A fresh state starts a run (diffusers' `set_timesteps`), at step 0 or, as with `set_begin_index`, any
    /// later step. It holds tensors only by value, so a copy resumes the run exactly.
    public struct State {
        /// Converted model outputs x̂0 of the last ≤ `solver_order` steps, oldest first.
        public fileprivate(set) var modelOutputs: [Tensor] = []
        /// The sample the last predictor started from (the corrector's x_{s0}).
        public fileprivate(set) var lastSample: Tensor?
        /// The order of the last predictor, which the next step's corrector reuses.
        public fileprivate(set) var lastOrder = 0
        /// Steps taken, capped at `solver_order` (diffusers' `lower_order_nums`: the warm-up of the multistep).
        public fileprivate(set) var lowerOrderNumbers = 0
        /// The index the next step must have; nil for a fresh state.
        public fileprivate(set) var nextIndex: Int?

        public init() {}
    }

    /// diffusers' `set_timesteps(steps)` with flow sigmas (float64 as NumPy computes them):
    /// grid = linspace(1, 1/N, steps + 1)[:-1] (N = num_train_timesteps), σ = s·g / (1 + (s − 1)·g), optionally
    /// stretched so the last σ is `shift_terminal`, σ_0 lowered by 1e-6 when it is 1 (so log α stays finite), then a
    /// final 0 (or, with `sigma_min`, the last σ again: the last step then returns its corrected input).
    /// `shiftOverride` replaces `flow_shift` (as `from_config(..., flow_shift=s)`; the CLI's `--shift`).
    public init(config: Config, steps: Int, shiftOverride: Double? = nil) {
        let problems = config.problems()
        precondition(problems.isEmpty, "UniPCMultistepScheduler: " + problems.joined(separator: "; "))
        precondition(steps >= 1, "UniPCMultistepScheduler: steps must be at least 1, got \(steps)")
        self.config = config
        let n = Double(config.numTrainTimesteps)
        // NumPy's linspace: i·step + start (the endpoint, which is dropped, is the only element set exactly).
        let delta = (1 / n - 1) / Double(steps)
        var sigmas = (0..<steps).map { Double($0) * delta + 1 }
        let shift = shiftOverride ?? config.flowShift
        precondition(shift > 0, "UniPCMultistepScheduler: flow shift must be positive, got \(shift)")
        sigmas = sigmas.map { shift * $0 / (1 + (shift - 1) * $0) }
        if let terminal = config.shiftTerminal, terminal != 0 {
            let scale = (1 - sigmas[steps - 1]) / (1 - terminal)
            sigmas = sigmas.map { 1 - (1 - $0) / scale }
        }
        if abs(sigmas[0] - 1) < 1e-6 { sigmas[0] -= 1e-6 }
        timesteps = sigmas.map { Int(($0 * n).rounded(.towardZero)) }
        self.sigmas = sigmas.map { Float($0) } + [config.finalSigmasType == "sigma_min" ? Float(sigmas[steps - 1]) : 0]
    }

    /// One UniPC step from index `i`: converts `modelOutput` to x̂0, corrects `sample` with it (UniC, using the
    /// previous step's prediction; skipped at step 0, after a fresh state and for indices in `disable_corrector`),
    /// then predicts the sample at σ_{i+1} (UniP of order min(solver_order, steps − i, steps taken + 1)).
    /// Returns x_{i+1} in float32 and updates `state`.
    public func step(_ i: Int, modelOutput: Tensor, sample: Tensor, state: inout State) -> Tensor {
        precondition(i >= 0 && i < steps, "UniPCMultistepScheduler: step \(i) outside 0..<\(steps)")
        precondition(
            state.nextIndex == nil || state.nextIndex == i,
            "UniPCMultistepScheduler: step \(i) after step \(state.nextIndex.map { $0 - 1 } ?? -1); use a fresh State")
        var x = sample.asType(.float32)
        let x0 = dataPrediction(modelOutput.asType(.float32), sample: x, sigma: sigmas[i])
        if i > 0, let last = state.lastSample, !config.disableCorrector.contains(i - 1) {
            x = corrected(i, prediction: x0, lastSample: last, history: state.modelOutputs, order: state.lastOrder)
        }
        state.modelOutputs.append(x0)
        if state.modelOutputs.count > config.solverOrder { state.modelOutputs.removeFirst() }
        let order = Swift.min(
            config.lowerOrderFinal ? Swift.min(config.solverOrder, steps - i) : config.solverOrder,
            state.lowerOrderNumbers + 1)
        state.lastSample = x
        state.lastOrder = order
        state.lowerOrderNumbers = Swift.min(state.lowerOrderNumbers + 1, config.solverOrder)
        state.nextIndex = i + 1
        return predicted(i, sample: x, history: state.modelOutputs, order: order)
    }

    // MARK: - The update

    /// x̂0 from the network output at σ (`convert_model_output` with predict_x0).
    func dataPrediction(_ output: Tensor, sample x: Tensor, sigma: Float) -> Tensor {
        let alpha = 1 - sigma
        switch config.predictionType {
        case "flow_prediction": return x - sigma * output
        case "epsilon": return (x - sigma * output) / alpha
        case "v_prediction": return alpha * x - sigma * output
        default: return output  // "sample"
        }
    }

    /// λ(σ) = log(1 − σ) − log σ in float32, as diffusers evaluates it on its float32 sigmas.
    static func lambda(_ sigma: Float) -> Float { Foundation.log(1 - sigma) - Foundation.log(sigma) }

    /// UniP (`multistep_uni_p_bh_update`): from x at σ_s0 = σ_i to σ_t = σ_{i+1}, with the newest prediction m0 and
    /// order − 1 older ones.
    func predicted(_ i: Int, sample x: Tensor, history: [Tensor], order: Int) -> Tensor {
        let (sigmaT, sigmaS0) = (sigmas[i + 1], sigmas[i])
        let m0 = history[history.count - 1]
        let c = Coefficients(
            sigmaT: sigmaT, sigmaS0: sigmaS0, previous: (1..<order).map { sigmas[i - $0] }, order: order,
            bh1: config.solverType == "bh1")
        let base = (sigmaT / sigmaS0) * x - ((1 - sigmaT) * c.hPhi1) * m0
        guard order > 1 else { return base }
        // ρ for order 2 is ½ (diffusers' shortcut), else the (order−1)² system without the last row and column.
        let rhos =
            order == 2 ? [0.5] : Self.solve(c.matrix.dropLast().map { Array($0.dropLast()) }, Array(c.b.dropLast()))
        var residual = Float(rhos[0]) * ((history[history.count - 2] - m0) / c.rks[0])
        for k in 1..<(order - 1) {
            residual = residual + Float(rhos[k]) * ((history[history.count - 2 - k] - m0) / c.rks[k])
        }
        return base - ((1 - sigmaT) * c.bH) * residual
    }

    /// UniC (`multistep_uni_c_bh_update`): redoes the step σ_{i−1} → σ_i from `lastSample` with the new
    /// prediction `x0` (taken at σ_i) as one more point; `history` is before `x0` is added.
    func corrected(_ i: Int, prediction x0: Tensor, lastSample: Tensor, history: [Tensor], order: Int) -> Tensor {
        let (sigmaT, sigmaS0) = (sigmas[i], sigmas[i - 1])
        let m0 = history[history.count - 1]
        let c = Coefficients(
            sigmaT: sigmaT, sigmaS0: sigmaS0, previous: (1..<order).map { sigmas[i - 1 - $0] }, order: order,
            bh1: config.solverType == "bh1")
        let base = (sigmaT / sigmaS0) * lastSample - ((1 - sigmaT) * c.hPhi1) * m0
        // ρ for order 1 is ½ (diffusers' shortcut), else the full order² system.
        let rhos = order == 1 ? [0.5] : Self.solve(c.matrix, c.b)
        var residual = Float(rhos[order - 1]) * (x0 - m0)
        for k in 0..<(order - 1) {
            residual = residual + Float(rhos[k]) * ((history[history.count - 2 - k] - m0) / c.rks[k])
        }
        return base - ((1 - sigmaT) * c.bH) * residual
    }

    /// The scalars of one B(h) update (predict_x0), in float32 as diffusers computes them.
    struct Coefficients {
        /// r_k = (λ_{s_k} − λ_{s0}) / h for the older points, then 1.
        let rks: [Float]
        /// φ₁·h = e^{−h} − 1.
        let hPhi1: Float
        /// B(h) = e^{−h} − 1 (bh2) or −h (bh1).
        let bH: Float
        /// The order conditions ρ solves: R[k][j] = r_j^k and b_k = (k+1)!·g_k / B(h) (k = 0..<order), where
        /// g_0 = (e^{−h} − 1)/(−h) − 1 and g_{k+1} = g_k/(−h) − 1/(k+2)!.
        let matrix: [[Double]]
        let b: [Double]

        init(sigmaT: Float, sigmaS0: Float, previous: [Float], order: Int, bh1: Bool) {
            let lambdaS0 = UniPCMultistepScheduler.lambda(sigmaS0)
            let h = UniPCMultistepScheduler.lambda(sigmaT) - lambdaS0
            rks = previous.map { (UniPCMultistepScheduler.lambda($0) - lambdaS0) / h } + [1]
            let hh = -h
            hPhi1 = Foundation.expm1(hh)
            bH = bh1 ? hh : Foundation.expm1(hh)
            var hPhiK = hPhi1 / hh - 1
            var factorial: Float = 1
            var rows: [[Double]] = []
            var b: [Double] = []
            for k in 1...order {
                rows.append(rks.map { Double(Foundation.pow($0, Float(k - 1))) })
                b.append(Double(hPhiK * factorial / bH))
                factorial *= Float(k + 1)
                hPhiK = hPhiK / hh - 1 / factorial
            }
            matrix = rows
            self.b = b
        }
    }

    /// Gaussian elimination with partial pivoting (torch.linalg.solve's LU) for the small order-condition systems.
    static func solve(_ a: [[Double]], _ b: [Double]) -> [Double] {
        var m = a
        var y = b
        let n = y.count
        for col in 0..<n {
            let pivot = (col..<n).max { abs(m[$0][col]) < abs(m[$1][col]) }!
            m.swapAt(col, pivot)
            y.swapAt(col, pivot)
            for row in (col + 1)..<n {
                let f = m[row][col] / m[col][col]
                for j in col..<n { m[row][j] -= f * m[col][j] }
                y[row] -= f * y[col]
            }
        }
        var x = [Double](repeating: 0, count: n)
        for row in stride(from: n - 1, through: 0, by: -1) {
            let s = ((row + 1)..<n).reduce(y[row]) { $0 - m[row][$1] * x[$1] }
            x[row] = s / m[row][row]
        }
        return x
    }
}
