import Engine

/// The noise levels of a flow-matching sampler: `σ_0 = 1 > σ_1 > … > σ_T = 0` on a linear grid bent by the SD3
/// static time shift `σ = s·t / (1 + (s−1)·t)`, and the integer timesteps the network sees, `τ_i =
/// trunc(1000·σ_i)`.
///
/// Everything is computed in Float32 with PyTorch's `linspace` rule (the first half counts up from the start, the
/// second half down from the end), because DanceGRPO's tables depend on that rounding: in float64 the T=12 grid gives
/// τ=600 where the reference feeds the network 599 (DanceGRPO's `sd3_time_shift` of a `torch.linspace` and
/// `int(sigma * 1000)`, linked below).
/// https://github.com/XueZeyue/DanceGRPO/blob/22b85efe5312089f07c027d5ba94db168656c9dc/fastvideo/train_grpo_flux.py#L317
public struct SigmaSchedule: Sendable, Equatable {
    /// `T + 1` noise levels, from 1 down to 0.
    public let sigmas: [Float]
    /// `T` network timesteps, `trunc(1000·σ_i)` for i = 0..<T.
    public let timesteps: [Int]

    public var steps: Int { timesteps.count }

    public init(steps: Int, shift: Float) {
        precondition(steps >= 1, "SigmaSchedule: steps must be at least 1, got \(steps)")
        precondition(shift > 0, "SigmaSchedule: shift must be positive, got \(shift)")
        let grid = SigmaSchedule.torchLinspace(from: 1, to: 0, count: steps + 1)
        sigmas = grid.map { t in shift * t / (1 + (shift - 1) * t) }
        timesteps = sigmas.prefix(steps).map { Int(($0 * 1000).rounded(.towardZero)) }
    }

    /// `torch.linspace(start, end, count)` in float32, element for element.
    static func torchLinspace(from start: Float, to end: Float, count: Int) -> [Float] {
        guard count > 1 else { return [start] }
        let step = (end - start) / Float(count - 1)
        let half = count / 2
        return (0..<count).map { i in i < half ? start + step * Float(i) : end - step * Float(count - i - 1) }
    }
}
