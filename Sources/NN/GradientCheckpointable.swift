/// A network whose blocks can recompute their activations in the backward pass instead of keeping them (the seed's
/// `--gradient_checkpointing`): less memory for the same gradients, at the cost of a second forward per block.
public protocol GradientCheckpointable: AnyObject {
    var gradientCheckpointing: Bool { get set }
    /// The blocks checkpointed when ``gradientCheckpointing`` is on, each through ``Module/withCheckpointing(_:_:)``
    /// on the block itself (ZeRO-3 gathers each one's weights inside its checkpoint).
    var checkpointedBlocks: [Module] { get }
}
