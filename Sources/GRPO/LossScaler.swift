import Engine

/// Dynamic loss scaling for fp16 training, with `torch.cuda.amp.GradScaler`'s rules: the loss is multiplied by the
/// scale before the backward pass (so small gradients survive fp16's range), the gradients are divided by it before
/// clipping and the step; a window whose gradients are not finite skips its step and halves the scale, and after
/// `growthInterval` finite steps in a row the scale doubles. The scale is a power of two, so scaling and unscaling
/// are exact.
public final class LossScaler {
    /// The current multiplier of the loss (GradScaler's `scale`).
    public private(set) var scale: Float
    /// Finite steps since the scale last changed (GradScaler's `_growth_tracker`).
    public private(set) var growthTracker = 0
    public let growthInterval: Int
    public let growthFactor: Float = 2
    public let backoffFactor: Float = 0.5

    /// GradScaler's defaults: an initial scale of 2^16, doubled after 2000 finite steps in a row.
    public init(initialScale: Float = 65536, growthInterval: Int = 2000) {
        precondition(initialScale > 0 && growthInterval > 0, "LossScaler: scale and growth interval must be positive")
        scale = initialScale
        self.growthInterval = growthInterval
    }

    /// The loss to differentiate.
    public func scaled(_ loss: Tensor) -> Tensor { loss * scale }

    /// The gradients of the unscaled loss.
    public func unscale(_ gradients: [String: Tensor]) -> [String: Tensor] {
        let inverse = 1 / scale
        return gradients.mapValues { $0 * inverse }
    }

    /// GradScaler's `update`: after a skipped (non-finite) step the scale halves, after `growthInterval` finite steps
    /// in a row it doubles.
    public func update(foundNonFinite: Bool) {
        if foundNonFinite {
            scale *= backoffFactor
            growthTracker = 0
        } else {
            growthTracker += 1
            if growthTracker == growthInterval {
                scale *= growthFactor
                growthTracker = 0
            }
        }
    }

    /// A window whose loss or gradients were not finite: halves the scale and says why its step is skipped. While the
    /// scale was above 1 that is fp16's range (an overflow, routine under loss scaling); at 1 or below the scaling no
    /// longer explains it and the value's own reason is returned.
    func skipNonFinite(_ reason: SkippedStep) -> SkippedStep {
        let used = scale
        update(foundNonFinite: true)
        return used > 1 ? .gradientOverflow(lossScale: used) : reason
    }

    // MARK: - Checkpoints

    /// The state as GradScaler's `state_dict()` names it (for `trainer_state.json`).
    public var state: [String: Any] {
        [
            "scale": Double(scale), "growth_factor": Double(growthFactor), "backoff_factor": Double(backoffFactor),
            "growth_interval": growthInterval, "_growth_tracker": growthTracker
        ]
    }

    /// Puts back a saved scale and growth tracker (GradScaler's `load_state_dict`).
    public func restore(scale: Float, growthTracker: Int) {
        precondition(
            scale > 0 && scale.isFinite && growthTracker >= 0, "LossScaler: bad state \(scale)/\(growthTracker)")
        self.scale = scale
        self.growthTracker = growthTracker
    }
}
