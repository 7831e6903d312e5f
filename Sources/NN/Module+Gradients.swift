import Engine

// Gradients with respect to a module tree. The trainable tensors are handed to the engine as the inputs of a pure
// function; while it is traced, the module's slots temporarily hold the traced inputs, so ordinary model code
// (`model(x)`) is differentiated without threading parameters through it.

/// Evaluates `loss` (its first output must be a scalar; more outputs ride along without gradient) and the gradient
/// of that scalar with respect to every trainable parameter of `model`, keyed like ``Module/parameters()``.
/// With `computeDType` (mixed precision) the function sees each trainable parameter cast to that dtype, so the
/// network computes in it, while the gradients come back through the cast in the parameters' own (master) dtype;
/// gradient checkpointing (``Module/withCheckpointing(_:_:)``) then recomputes its blocks from the same casts.
public func valueAndGrad(model: Module, computeDType: DType? = nil, _ loss: @escaping () -> [Tensor]) -> (
    values: [Tensor], gradients: [String: Tensor]
) {
    let precision = computeDType.map(ComputePrecision.init)
    let trainable = model.namedSlots().filter { !$0.slot.isFrozen && $0.slot.value != nil }
    let originals = trainable.map { $0.slot.value! }
    let function = valueAndGrad { (inputs: [Tensor]) -> [Tensor] in
        for (entry, input) in zip(trainable, inputs) { entry.slot.value = precision?.cast(input) ?? input }
        defer { for (entry, original) in zip(trainable, originals) { entry.slot.value = original } }
        return loss()
    }
    let (values, gradients) = function(originals)
    return (values, Dictionary(uniqueKeysWithValues: zip(trainable.map(\.key), gradients)))
}

extension Module {
    /// Applies `body` with gradient checkpointing: activations inside are recomputed in the backward pass. The
    /// module's trainable tensors become explicit inputs of the checkpointed function, as the engine requires for
    /// their gradients to flow. A module with a ``parameterSource`` takes the source's inputs instead and rebuilds its
    /// weights inside, so they too are recomputed rather than kept.
    public func withCheckpointing(_ inputs: [Tensor], _ body: @escaping ([Tensor]) -> [Tensor]) -> [Tensor] {
        if let source = parameterSource {
            let count = inputs.count
            let function = checkpointed { (all: [Tensor]) -> [Tensor] in
                source.materialize(Array(all[count...]))
                defer { source.release() }
                return body(Array(all[..<count]))
            }
            return function(inputs + source.sourceInputs)
        }
        let slots = namedSlots().filter { !$0.slot.isFrozen && $0.slot.value != nil }.map(\.slot)
        let count = inputs.count
        let function = checkpointed { (all: [Tensor]) -> [Tensor] in
            let saved = slots.map { $0.value }
            for (slot, value) in zip(slots, all[count...]) { slot.value = value }
            defer { for (slot, value) in zip(slots, saved) { slot.value = value } }
            return body(Array(all[..<count]))
        }
        return function(inputs + slots.map { $0.value! })
    }
}
