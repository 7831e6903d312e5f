import Engine

/// Where a module's trainable tensors come from while they are not stored in it: ZeRO-3 keeps each rank's share of a
/// block's weights and gathers the whole block only for the passes that use it. A checkpointed block with a source
/// (``Module/withCheckpointing(_:_:)``) takes the source's inputs into the checkpointed function and rebuilds its
/// weights inside, so the gathered weights are dropped after its forward and gathered again for its backward.
public protocol ParameterSource: AnyObject {
    /// The tensors the weights are built from (this rank's shards); the gradients flow to them.
    var sourceInputs: [Tensor] { get }
    /// Sets the module's trainable slots from `inputs` (values of ``sourceInputs``, possibly traced).
    func materialize(_ inputs: [Tensor])
    /// Empties the slots again (after a pass), so that the gathered weights are not kept.
    func release()
}

/// Objects attached to modules by module identity, so that models need no field for them (a module's weight source
/// while sharded, its piecewise weights while saved).
final class ModuleAttachments<Value>: @unchecked Sendable {
    private var values: [ObjectIdentifier: Value] = [:]

    subscript(_ module: Module) -> Value? {
        get { values[ObjectIdentifier(module)] }
        set { values[ObjectIdentifier(module)] = newValue }
    }
}

private let parameterSources = ModuleAttachments<ParameterSource>()

extension Module {
    /// The module's weights' source while they are sharded (nil: the module holds them).
    public var parameterSource: ParameterSource? {
        get { parameterSources[self] }
        set { parameterSources[self] = newValue }
    }
}
