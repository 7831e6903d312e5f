import Engine

/// Storage for one named tensor of a module. A class, so that the module tree found by reflection can be written
/// through (loading, optimizer updates, tracing for gradients) without knowing the concrete module types.
public final class ParameterSlot {
    /// The checkpoint key of this tensor within its module ("weight", "scale", …).
    public let key: String
    public var value: Tensor?
    /// Frozen tensors are loaded and saved but excluded from gradients and optimizer updates.
    public var isFrozen: Bool
    /// Buffers (running statistics, fixed tables) are saved and loaded but never trained.
    public let isBuffer: Bool

    init(key: String, value: Tensor?, isFrozen: Bool = false, isBuffer: Bool = false) {
        self.key = key
        self.value = value
        self.isFrozen = isFrozen || isBuffer
        self.isBuffer = isBuffer
    }
}

/// Declares a module's tensor. The property name is the checkpoint key unless `key` says otherwise:
/// `@Param var weight: Tensor`, `@Param(key: "scale") var weight: Tensor`, `@Param var bias: Tensor?`.
@propertyWrapper
public struct Param<Value: TensorSlotValue> {
    public let slot: ParameterSlot
    let explicitKey: String?

    public init(wrappedValue: Value, key: String? = nil) {
        explicitKey = key
        slot = ParameterSlot(key: key ?? "", value: wrappedValue.asOptionalTensor)
    }

    /// A renamed parameter assigned later in the module's initialiser.
    public init(key: String) {
        explicitKey = key
        slot = ParameterSlot(key: key, value: nil)
    }

    public var wrappedValue: Value {
        get { Value.fromOptionalTensor(slot.value) }
        nonmutating set { slot.value = newValue.asOptionalTensor }
    }
}

/// Declares a non-trainable tensor that belongs to the checkpoint (e.g. a position-id table).
@propertyWrapper
public struct Buffer<Value: TensorSlotValue> {
    public let slot: ParameterSlot
    let explicitKey: String?

    public init(wrappedValue: Value, key: String? = nil) {
        explicitKey = key
        slot = ParameterSlot(key: key ?? "", value: wrappedValue.asOptionalTensor, isBuffer: true)
    }

    /// A renamed buffer assigned later in the module's initialiser.
    public init(key: String) {
        explicitKey = key
        slot = ParameterSlot(key: key, value: nil, isBuffer: true)
    }

    public var wrappedValue: Value {
        get { Value.fromOptionalTensor(slot.value) }
        nonmutating set { slot.value = newValue.asOptionalTensor }
    }
}

/// Declares a submodule (or an array or optional of them) under a checkpoint key that differs from the Swift name:
/// `@Child(key: "to_q") var toQuery: Linear`. Submodules whose Swift name is the key need no wrapper.
/// Swift runs a wrapper's initialiser at the declaration when it has arguments, so properties declared with
/// `key:` are assigned after `super.init()`; unwrapped and argument-free ones are assigned before it as usual.
@propertyWrapper
public struct Child<Value> {
    private var stored: Value?
    public let key: String

    public init(wrappedValue: Value, key: String) {
        stored = wrappedValue
        self.key = key
    }

    /// A renamed child assigned later in the module's initialiser.
    public init(key: String) { self.key = key }

    public var wrappedValue: Value {
        get {
            guard let stored else { preconditionFailure("child '\(key)' was read before being assigned") }
            return stored
        }
        set { stored = newValue }
    }
}

/// `Tensor` and `Tensor?` are the values a parameter may hold.
public protocol TensorSlotValue {
    var asOptionalTensor: Tensor? { get }
    static func fromOptionalTensor(_ t: Tensor?) -> Self
}
extension Tensor: TensorSlotValue {
    public var asOptionalTensor: Tensor? { self }
    public static func fromOptionalTensor(_ t: Tensor?) -> Tensor {
        guard let t else { preconditionFailure("a non-optional parameter was read before being set") }
        return t
    }
}
extension Optional: TensorSlotValue where Wrapped == Tensor {
    public var asOptionalTensor: Tensor? { self }
    public static func fromOptionalTensor(_ t: Tensor?) -> Tensor? { t }
}

// Reflection needs to see through the generic wrappers without knowing their type arguments.
protocol SlotWrapper { var slot: ParameterSlot { get }; var explicitKey: String? { get } }
extension Param: SlotWrapper {}
extension Buffer: SlotWrapper {}
protocol ChildWrapper { var childKey: String { get }; var childValue: Any { get } }
extension Child: ChildWrapper {
    var childKey: String { key }
    var childValue: Any { wrappedValue as Any }
}
