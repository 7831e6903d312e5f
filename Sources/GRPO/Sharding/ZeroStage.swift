/// How much of the training state each data-parallel rank holds, by DeepSpeed's ZeRO stage numbers (stage 3 is
/// PyTorch FSDP's `FULL_SHARD`, what DanceGRPO trains FLUX, HunyuanVideo and Qwen-Image with).
public enum ZeroStage: Int, CaseIterable, Sendable, CustomStringConvertible {
    /// Every rank holds the whole state; gradients are all-summed.
    case replicated = 0
    /// AdamW's moments are sharded: each rank updates its share of the weights and the ranks gather the result.
    case optimizerState = 1
    /// Also the accumulated gradients: each call's gradients are reduce-scattered into this rank's share.
    case gradients = 2
    /// Also the trained weights: a block's weights exist whole only while gathered for its forward or backward.
    case parameters = 3

    public var description: String {
        switch self {
        case .replicated: return "ZeRO stage 0 (replicated)"
        case .optimizerState: return "ZeRO stage 1 (optimizer state sharded)"
        case .gradients: return "ZeRO stage 2 (optimizer state and gradients sharded)"
        case .parameters: return "ZeRO stage 3 (optimizer state, gradients and parameters sharded)"
        }
    }
}
