import Engine
import GRPO
import NN

extension MixedPrecision {
    /// The dtype the network computes in; nil for float32 throughout.
    public var computeDType: DType? {
        switch self {
        case .no: return nil
        case .bf16: return .bfloat16
        case .fp16: return .float16
        }
    }
}

extension GRPOTrainer {
    /// `--mixed-precision` at trainer start. The trained tensors stay float32 (the master weights AdamW updates and
    /// checkpoints hold); with LoRA the frozen base is stored in the compute dtype from now on (it gets no gradient
    /// and no optimizer state, so its memory halves). Returns the compute dtype.
    static func prepareMixedPrecision(_ config: Config, network: Module) -> DType? {
        guard let dtype = config.mixedPrecision.computeDType else { return nil }
        if config.loraRank > 0 { ComputePrecision(dtype).castFrozenParameters(of: network) }
        return dtype
    }

    /// The task's policy, computing in the compute dtype when there is one (rollouts, evaluation and training).
    static func mixedPrecisionPolicy(_ policy: DenoisingPolicy, _ config: Config) -> DenoisingPolicy {
        guard let dtype = config.mixedPrecision.computeDType else { return policy }
        return MixedPrecisionPolicy(policy, computeDType: dtype)
    }

    /// `trainer_state.json`'s `loss_scaler` (fp16): restores the saved scale; a checkpoint without one (written by a
    /// float32 or bf16 run) starts from GradScaler's initial scale.
    func restoreLossScaler(from state: [String: Any], file: String) throws {
        guard let lossScaler, let saved = state["loss_scaler"] else { return }
        let entries = saved as? [String: Any] ?? [:]
        let scale = (entries["scale"] as? Double) ?? (entries["scale"] as? Int).map(Double.init)
        guard let scale, scale > 0, scale.isFinite, let tracker = entries["_growth_tracker"] as? Int, tracker >= 0
        else {
            throw TrainerError.corruptCheckpoint(
                file: file,
                reason:
                    """
                    'loss_scaler' is \(saved), expected {"scale": a positive number, "_growth_tracker": a count ≥ 0}
                    """)
        }
        lossScaler.restore(scale: Float(scale), growthTracker: tracker)
    }
}
