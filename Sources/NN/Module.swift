import Foundation
import Engine

/// Base class of every layer and model. Its tensors form a tree whose dotted names are the checkpoint keys
/// (`transformer_blocks.0.attn.to_q.weight`), found by reflection over stored properties:
/// - `@Param` / `@Buffer` properties are this module's own tensors;
/// - properties holding a `Module`, `Module?` or `[Module]` are children (arrays are numbered `name.0`, `name.1`);
/// - `@Child(key:)` renames a child for the checkpoint.
/// Anything else (config values, closures) is ignored.
open class Module {
    /// Whether the module is in training mode (for layers that behave differently, e.g. dropout).
    public private(set) var isTraining = true

    public init() {}

    // MARK: - Reflection

    /// Direct children with their keys, in declaration order.
    public func children() -> [(key: String, module: Module)] {
        var result: [(String, Module)] = []
        forEachProperty { label, value in
            if let wrapper = value as? ChildWrapper {
                Module.collectModules(wrapper.childValue, key: wrapper.childKey, into: &result)
            } else if !(value is SlotWrapper) {
                Module.collectModules(value, key: label, into: &result)
            }
        }
        return result
    }

    /// This module's own tensor slots with their keys, in declaration order.
    public func ownSlots() -> [(key: String, slot: ParameterSlot)] {
        var result: [(String, ParameterSlot)] = []
        forEachProperty { label, value in
            if let wrapper = value as? SlotWrapper {
                result.append((wrapper.explicitKey ?? String(label.dropFirst()), wrapper.slot))
            }
        }
        return result
    }

    private func forEachProperty(_ body: (String, Any) -> Void) {
        var mirror: Mirror? = Mirror(reflecting: self)
        var levels: [Mirror] = []
        while let m = mirror {
            levels.append(m)
            mirror = m.superclassMirror
        }
        // Base-class properties first, so subclass order follows declaration order as a reader expects.
        for level in levels.reversed() {
            for child in level.children {
                guard let label = child.label else { continue }
                body(label, child.value)
            }
        }
    }

    private static func collectModules(_ value: Any, key: String, into result: inout [(String, Module)]) {
        if let module = value as? Module {
            result.append((key, module))
        } else if let list = value as? [Module] {
            for (i, m) in list.enumerated() { result.append(("\(key).\(i)", m)) }
        } else if let optional = value as? OptionalModule, let module = optional.wrappedModule {
            result.append((key, module))
        } else if let optionalList = value as? OptionalModuleList, let list = optionalList.wrappedModules {
            for (i, m) in list.enumerated() { result.append(("\(key).\(i)", m)) }
        }
    }

    /// Every tensor slot that holds a tensor, with its dotted key, in declaration order (depth first). Optional
    /// tensors this configuration does not have (a disabled bias) are left out.
    public func namedSlots(prefix: String = "") -> [(key: String, slot: ParameterSlot)] {
        var result = ownSlots().filter { $0.slot.value != nil }.map { (prefix + $0.key, $0.slot) }
        for (key, child) in children() { result += child.namedSlots(prefix: prefix + key + ".") }
        return result
    }

    /// Every submodule in the tree with its dotted key (the root is "").
    public func namedModules(prefix: String = "") -> [(key: String, module: Module)] {
        var result: [(String, Module)] = [(prefix.isEmpty ? "" : String(prefix.dropLast()), self)]
        for (key, child) in children() { result += child.namedModules(prefix: prefix + key + ".") }
        return result
    }

    // MARK: - Parameters

    /// All tensors that are set (parameters and buffers) by dotted key.
    public func parameters() -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: namedSlots().compactMap { k, s in s.value.map { (k, $0) } })
    }

    /// Tensors that receive gradients, in a stable order.
    public func trainableParameters() -> [(key: String, value: Tensor)] {
        namedSlots().compactMap { k, s in (s.isFrozen || s.value == nil) ? nil : (k, s.value!) }
    }

    /// Number of scalars in all parameters (or only trainable ones).
    public func parameterCount(trainableOnly: Bool = false) -> Int {
        namedSlots().reduce(0) { n, entry in
            guard let v = entry.slot.value, !(trainableOnly && entry.slot.isFrozen) else { return n }
            return n + v.count
        }
    }

    /// Replaces tensors by key; keys not in the tree are ignored (use ``load(_:strict:)`` for checked loading).
    public func update(parameters: [String: Tensor]) {
        for (key, slot) in namedSlots() { if let v = parameters[key] { slot.value = v } }
    }

    /// Freezes every parameter whose key matches (all when `matching` is nil). Patterns: see ``KeyPattern``.
    public func freeze(matching pattern: KeyPattern? = nil) { setFrozen(true, pattern) }
    public func unfreeze(matching pattern: KeyPattern? = nil) { setFrozen(false, pattern) }

    private func setFrozen(_ frozen: Bool, _ pattern: KeyPattern?) {
        for (key, slot) in namedSlots() where !slot.isBuffer && (pattern?.matches(key) ?? true) {
            slot.isFrozen = frozen
        }
    }

    /// Converts floating-point tensors to `dtype` (e.g. bf16 weights to fp32 master weights).
    public func castParameters(to dtype: DType, matching pattern: KeyPattern? = nil) {
        for (key, slot) in namedSlots() {
            guard let v = slot.value, v.dtype.isFloatingPoint, pattern?.matches(key) ?? true else { continue }
            slot.value = v.asType(dtype)
        }
    }

    /// Sets training or evaluation mode on the whole tree.
    public func train(_ training: Bool = true) {
        for (_, m) in namedModules() { m.isTraining = training }
    }

    // MARK: - Checkpoint layout hooks

    /// Converts a checkpoint tensor for one of this module's own keys into the layout this module computes with
    /// (e.g. convolution weights from PyTorch's channels-first to channels-last). Identity by default.
    open func tensorFromCheckpoint(key: String, _ tensor: Tensor) -> Tensor { tensor }

    /// The inverse of ``tensorFromCheckpoint(key:_:)``, used when saving.
    open func tensorToCheckpoint(key: String, _ tensor: Tensor) -> Tensor { tensor }

    /// The tensors of the tree in checkpoint layout, by dotted key (what ``save(to:metadata:)`` writes).
    public func checkpointTensors() -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        forEachSlotWithOwner { key, localKey, owner, slot in
            if let v = slot.value { result[key] = owner.tensorToCheckpoint(key: localKey, v) }
        }
        return result
    }

    func forEachSlotWithOwner(prefix: String = "", _ body: (String, String, Module, ParameterSlot) -> Void) {
        for (key, slot) in ownSlots() { body(prefix + key, key, self, slot) }
        for (key, child) in children() { child.forEachSlotWithOwner(prefix: prefix + key + ".", body) }
    }
}

// Lets reflection recognise optional children without knowing their concrete type.
protocol OptionalModule { var wrappedModule: Module? { get } }
extension Optional: OptionalModule where Wrapped: Module {
    var wrappedModule: Module? { self }
}
protocol OptionalModuleList { var wrappedModules: [Module]? { get } }
extension Optional: OptionalModuleList where Wrapped: Collection, Wrapped.Element: Module {
    var wrappedModules: [Module]? { self.map { Array($0) } }
}

/// Matches dotted parameter keys. A pattern is a list of alternatives separated by `,`; each is a regular expression
/// matched against the whole key, or a plain word matched against whole key components
/// (`to_q` matches `blocks.0.attn.to_q.weight`).
public struct KeyPattern: ExpressibleByStringLiteral, Sendable, CustomStringConvertible {
    public let alternatives: [String]
    public init(_ pattern: String) {
        alternatives = pattern.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    }
    public init(stringLiteral value: String) { self.init(value) }
    public var description: String { alternatives.joined(separator: ",") }

    public func matches(_ key: String) -> Bool {
        let components = key.split(separator: ".").map(String.init)
        for alternative in alternatives {
            if alternative.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
                if components.contains(alternative) { return true }
            } else if (try? Regex(alternative).wholeMatch(in: key)) != nil
                || key.contains(alternative) && !alternative.contains(where: { "*+?[]()|^$\\".contains($0) })
            {
                return true
            }
        }
        return false
    }
}
