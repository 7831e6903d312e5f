import Foundation

/// Learning rate as a function of the optimizer step index (0 for the first step): a base rate times a multiplier,
/// with the multipliers of diffusers' `get_*_schedule` functions (`diffusers/optimization.py`, the same formulas as
/// transformers'). Warm-up is linear from 0: step k < W uses k/W, so the very first step uses rate 0.
public struct LRSchedule: Sendable, Equatable, CustomStringConvertible {
    public enum Shape: Sendable, Equatable {
        /// Multiplier 1.
        case constant
        /// k/W during warm-up, then 1 (`get_constant_schedule_with_warmup`; warm-up 0 is `constant`).
        case constantWithWarmup(warmupSteps: Int)
        /// Warm-up, then linear from 1 at W to 0 at `totalSteps`, and 0 after (`get_linear_schedule_with_warmup`).
        case linearWithWarmup(warmupSteps: Int, totalSteps: Int)
        /// Warm-up, then ½(1 + cos(2π·cycles·progress)) with progress = (k − W)/(total − W)
        /// (`get_cosine_schedule_with_warmup`). With the default half cycle it reaches 0 at `totalSteps`; like
        /// diffusers, steps beyond it climb the next half-period rather than staying at 0.
        case cosineWithWarmup(warmupSteps: Int, totalSteps: Int, cycles: Double)
    }

    public var baseLearningRate: Double
    public var shape: Shape

    public init(baseLearningRate: Double, shape: Shape) {
        self.baseLearningRate = baseLearningRate
        self.shape = shape
        switch shape {
        case .constant: break
        case .constantWithWarmup(let w): precondition(w >= 0, "LRSchedule: warmupSteps must be ≥ 0, got \(w)")
        case .linearWithWarmup(let w, let total), .cosineWithWarmup(let w, let total, _):
            precondition(w >= 0 && total >= w, "LRSchedule: need 0 ≤ warmupSteps ≤ totalSteps, got \(w), \(total)")
        }
    }

    public static func constant(_ learningRate: Double) -> LRSchedule {
        LRSchedule(baseLearningRate: learningRate, shape: .constant)
    }
    public static func constantWithWarmup(_ learningRate: Double, warmupSteps: Int) -> LRSchedule {
        LRSchedule(baseLearningRate: learningRate, shape: .constantWithWarmup(warmupSteps: warmupSteps))
    }
    public static func linearWithWarmup(_ learningRate: Double, warmupSteps: Int, totalSteps: Int) -> LRSchedule {
        LRSchedule(
            baseLearningRate: learningRate, shape: .linearWithWarmup(warmupSteps: warmupSteps, totalSteps: totalSteps))
    }
    public static func cosineWithWarmup(
        _ learningRate: Double, warmupSteps: Int, totalSteps: Int,
        cycles: Double = 0.5
    ) -> LRSchedule {
        LRSchedule(
            baseLearningRate: learningRate,
            shape: .cosineWithWarmup(warmupSteps: warmupSteps, totalSteps: totalSteps, cycles: cycles))
    }

    /// The learning rate of step `step` (0-based).
    public func learningRate(at step: Int) -> Double { baseLearningRate * multiplier(at: step) }

    /// The factor on the base rate at step `step`.
    public func multiplier(at step: Int) -> Double {
        let k = Double(step)
        func warmup(_ w: Int) -> Double? { step < w ? k / Double(Swift.max(1, w)) : nil }
        switch shape {
        case .constant:
            return 1
        case .constantWithWarmup(let w):
            return warmup(w) ?? 1
        case .linearWithWarmup(let w, let total):
            return warmup(w) ?? Swift.max(0, Double(total - step) / Double(Swift.max(1, total - w)))
        case .cosineWithWarmup(let w, let total, let cycles):
            if let ramp = warmup(w) { return ramp }
            let progress = Double(step - w) / Double(Swift.max(1, total - w))
            return Swift.max(0, 0.5 * (1 + cos(Double.pi * cycles * 2 * progress)))
        }
    }

    public var description: String {
        switch shape {
        case .constant: return "constant(\(baseLearningRate))"
        case .constantWithWarmup(let w): return "constantWithWarmup(\(baseLearningRate), warmup: \(w))"
        case .linearWithWarmup(let w, let t): return "linearWithWarmup(\(baseLearningRate), warmup: \(w), total: \(t))"
        case .cosineWithWarmup(let w, let t, let c):
            return "cosineWithWarmup(\(baseLearningRate), warmup: \(w), total: \(t), cycles: \(c))"
        }
    }
}
