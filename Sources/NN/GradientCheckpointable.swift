/// A network whose blocks can recompute their activations in the backward pass instead of keeping them (the seed's
/// `--gradient_checkpointing`): less memory for the same gradients, at the cost of a second forward per block.
public protocol GradientCheckpointable: AnyObject {
    var gradientCheckpointing: Bool { get set }
}
