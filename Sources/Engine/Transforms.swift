internal import CMLXShim

// Evaluation and function transforms: value-and-gradient, gradient checkpointing, compilation.
// Swift closures reach MLX through one C callback (`trampoline`) and a retained box holding the closure.

/// Computes the given tensors (and everything they depend on) in one batch.
public func eval(_ tensors: [Tensor]) {
    if !dg.evalAll(makeVector(tensors)) { _ = checkStatus("eval", tensors) }
}
public func eval(_ tensors: Tensor...) { eval(tensors) }

final class FunctionBox {
    let function: ([Tensor]) -> [Tensor]
    init(_ function: @escaping ([Tensor]) -> [Tensor]) { self.function = function }
}

/// Hands a box to the shim retained; the shim releases it through `releaseBox` when MLX drops the function.
private func retained(_ box: FunctionBox) -> UnsafeMutableRawPointer { Unmanaged.passRetained(box).toOpaque() }
private let releaseBox: dg.Release = { context in Unmanaged<FunctionBox>.fromOpaque(context!).release() }

private let trampoline: dg.Callback = { context, inputs, outputs in
    let box = Unmanaged<FunctionBox>.fromOpaque(context!).takeUnretainedValue()
    outputs!.pointee = makeVector(box.function(tensors(of: inputs!.pointee)))
    return true
}

/// Runs `function(primals)` and the vector-Jacobian product of its outputs with `cotangents`.
public func vjp(_ function: @escaping ([Tensor]) -> [Tensor], primals: [Tensor], cotangents: [Tensor])
    -> (outputs: [Tensor], gradients: [Tensor])
{
    let box = FunctionBox(function)
    var outputs = dg.vectorNew(), gradients = dg.vectorNew()
    let ok = dg.vjp(
        trampoline, retained(box), releaseBox, makeVector(primals), makeVector(cotangents), &outputs, &gradients)
    if !ok { _ = checkStatus("valueAndGrad", primals) }
    return (tensors(of: outputs), tensors(of: gradients))
}

/// Wraps `function` so it returns its outputs and the gradient of its first output (a scalar) with respect to
/// every input. Other outputs ride along without gradient (auxiliary values such as metrics).
public func valueAndGrad(_ function: @escaping ([Tensor]) -> [Tensor]) -> ([Tensor]) -> (
    values: [Tensor], gradients: [Tensor]
) {
    return { primals in
        // The cotangent must match the first output, whose dtype is only known after tracing: trace once lazily by
        // seeding with a float32 one and letting MLX broadcast/cast (the loss is a scalar by contract).
        var outputsSeen: [Tensor] = []
        let wrapped: ([Tensor]) -> [Tensor] = { inputs in
            let outs = function(inputs)
            precondition(
                !outs.isEmpty && outs[0].count == 1,
                "valueAndGrad: the first output must be a scalar loss, got shape \(outs.first?.shape ?? [])")
            outputsSeen = outs
            return [outs[0]]
        }
        let (values, gradients) = vjp(wrapped, primals: primals, cotangents: [Tensor.scalar(1)])
        let aux = outputsSeen.dropFirst().map { $0.stopGradient() }
        return ([values[0]] + aux, gradients)
    }
}

/// `function` with MLX's gradient checkpointing: its intermediate activations are recomputed during the backward
/// pass instead of being kept, trading compute for memory (for transformer blocks in training).
///
/// An output that is the same graph node as an earlier output or as an input is returned as a copy: MLX's checkpoint
/// routes one cotangent per distinct node, so a tensor returned twice (a UNet block's output that is also its last skip
/// connection) would silently lose one of its two gradients.
public func checkpointed(_ function: @escaping ([Tensor]) -> [Tensor]) -> ([Tensor]) -> [Tensor] {
    let box = FunctionBox { inputs in
        var seen = Set(inputs.map(\.identity))
        return function(inputs).map { output in
            seen.insert(output.identity).inserted ? output : output * Float(1)
        }
    }
    return { inputs in
        var outputs = dg.vectorNew()
        let ok = dg.checkpointApply(trampoline, retained(box), releaseBox, makeVector(inputs), &outputs)
        if !ok { _ = checkStatus("checkpoint", inputs) }
        return tensors(of: outputs)
    }
}

/// A pure function compiled by MLX: traced on first use for each input shape (or once, if `shapeless`), with
/// element-wise chains fused. The function must not capture tensors that change between calls; pass them as inputs.
public final class CompiledFunction: @unchecked Sendable {
    private let box: FunctionBox
    private let handle: OpaquePointer

    public init(shapeless: Bool = false, _ function: @escaping ([Tensor]) -> [Tensor]) {
        box = FunctionBox(function)
        guard let h = dg.compileNew(trampoline, retained(box), releaseBox, shapeless) else {
            _ = checkStatus("compile")
            fatalError("compile failed")
        }
        handle = h
    }

    deinit { dg.compileFree(handle) }

    public func callAsFunction(_ inputs: [Tensor]) -> [Tensor] {
        var outputs = dg.vectorNew()
        if !dg.compileApply(handle, makeVector(inputs), &outputs) {
            _ = checkStatus("compiled function", inputs)
        }
        return tensors(of: outputs)
    }
}
