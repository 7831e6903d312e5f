import Engine

/// The dtype a network computes in under mixed precision (bf16 or fp16), with float32 master weights: the module
/// keeps its trainable tensors in float32 (what the optimizer updates and checkpoints hold), and a pass sees them cast
/// to the compute dtype, as FSDP's `MixedPrecision(param_dtype=…)` casts its gathered parameters for each forward.
/// Casts are graph nodes: inside ``valueAndGrad(model:computeDType:_:)`` the cast's gradient brings each parameter's
/// gradient back in float32. Buffers (position tables, running statistics) are never cast: they are not weights, and
/// the models cast what they read from them.
public struct ComputePrecision: Sendable, Equatable, CustomStringConvertible {
    public let dtype: DType

    /// `dtype` must be a floating-point type.
    public init(_ dtype: DType) {
        precondition(dtype.isFloatingPoint, "ComputePrecision: \(dtype) is not a floating-point dtype")
        self.dtype = dtype
    }

    public var description: String { "\(dtype) compute" }

    /// `tensor` in the compute dtype when it is floating point; integer and boolean tensors unchanged.
    public func cast(_ tensor: Tensor) -> Tensor {
        tensor.dtype.isFloatingPoint && tensor.dtype != dtype ? tensor.asType(dtype) : tensor
    }

    /// Runs `body` with every parameter of `module` (trainable and frozen, not buffers) held as its compute-dtype
    /// cast, and puts the stored tensors back afterwards: a forward pass outside differentiation (rollouts,
    /// evaluation) computes in the compute dtype while the module keeps its master weights. Parameters already in the
    /// compute dtype (a frozen low-precision base, or the casts ``valueAndGrad(model:computeDType:_:)`` installed) are
    /// left as they are.
    public func withParameters<T>(of module: Module, _ body: () throws -> T) rethrows -> T {
        let slots = module.namedSlots().map(\.slot).filter { slot in
            guard let value = slot.value, !slot.isBuffer else { return false }
            return value.dtype.isFloatingPoint && value.dtype != dtype
        }
        let stored = slots.map { $0.value }
        for slot in slots { slot.value = cast(slot.value!) }
        defer { for (slot, value) in zip(slots, stored) { slot.value = value } }
        return try body()
    }

    /// Stores the frozen parameters of `module` (a LoRA base) in the compute dtype from now on: they receive no
    /// gradient and no optimizer state, so nothing needs their float32 values, and their memory halves. Returns the
    /// keys it cast.
    @discardableResult
    public func castFrozenParameters(of module: Module) -> [String] {
        var cast: [String] = []
        for (key, slot) in module.namedSlots() where slot.isFrozen && !slot.isBuffer {
            guard let value = slot.value, value.dtype.isFloatingPoint, value.dtype != dtype else { continue }
            slot.value = value.asType(dtype)
            cast.append(key)
        }
        // Evaluated now, so the float32 originals are released instead of kept alive by the lazy casts.
        eval(module.namedSlots().filter { $0.slot.isFrozen }.compactMap { $0.slot.value })
        return cast
    }
}
