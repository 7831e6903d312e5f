import Foundation

/// A value on the restricted unpickler's stack. Only data (numbers, strings, containers) and the few torch objects the
/// allowlist can build exist here: no Python object is ever created, so nothing in a pickle can run.
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer wider than 64 bits (LONG1/LONG4), as its little-endian two's-complement bytes.
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    /// Tuples (a reference too, so that every container has an identity: see `dismantle`).
    case tuple(PickleTuple)
    /// Lists and sets (a reference: APPEND after MEMOIZE must be seen through the memo).
    case list(PickleList)
    /// Dicts and OrderedDicts (a reference, as lists).
    case dict(PickleDict)
    /// An allowlisted global: a class, builder function or dtype the unpickler implements itself.
    case global(TorchGlobal)
    /// A storage named by a persistent id (its bytes stay in the file until a tensor needs them).
    case storage(TorchStorage)
    /// A tensor view over a storage (rebuilt by `_rebuild_tensor_v2` and friends; read on demand).
    case tensor(TorchTensorReference)

    /// A short description for messages ("dict", "tuple of 3", "global torch.FloatStorage").
    var kind: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int(let v): return "int \(v)"
        case .bigInt: return "long integer"
        case .float: return "float"
        case .string(let s): return "string '\(s.prefix(40))'"
        case .bytes(let b): return "\(b.count) bytes"
        case .tuple(let tuple): return "tuple of \(tuple.items.count)"
        case .list(let list): return "list of \(list.items.count)"
        case .dict(let dict): return "dict of \(dict.entries.count)"
        case .global(let g): return "global \(g.qualifiedName)"
        case .storage(let s): return "storage '\(s.key)'"
        case .tensor: return "tensor"
        }
    }
}

extension PickleValue {
    var tupleItems: [PickleValue]? {
        if case .tuple(let tuple) = self { return tuple.items }
        return nil
    }

    /// The container object (tuple, list, dict) behind the value, for identity.
    var container: AnyObject? {
        switch self {
        case .tuple(let t): return t
        case .list(let l): return l
        case .dict(let d): return d
        default: return nil
        }
    }

    /// Cuts every edge of the object graph reachable from `roots`, so that releasing it is flat: a pickle can nest
    /// containers a million deep in a megabyte (TUPLE1 repeated) or make them refer to themselves, and releasing such a
    /// graph recursively would overflow the stack (or leak the cycles). Iterative, each container visited once.
    static func dismantle(_ roots: [PickleValue]) {
        var seen = Set<ObjectIdentifier>()
        var containers: [PickleContainer] = []
        var work = roots
        while let value = work.popLast() {
            guard let object = value.container as? PickleContainer, seen.insert(ObjectIdentifier(object)).inserted
            else { continue }
            containers.append(object)
            work.append(contentsOf: object.children)
        }
        for object in containers { object.removeChildren() }
    }
}

/// A container the unpickler builds; see `PickleValue.dismantle`.
protocol PickleContainer: AnyObject {
    var children: [PickleValue] { get }
    func removeChildren()
}

final class PickleTuple: PickleContainer {
    private(set) var items: [PickleValue]
    init(_ items: [PickleValue]) { self.items = items }
    var children: [PickleValue] { items }
    func removeChildren() { items = [] }
}

final class PickleList: PickleContainer {
    var items: [PickleValue]
    init(_ items: [PickleValue] = []) { self.items = items }
    var children: [PickleValue] { items }
    func removeChildren() { items = [] }
}

/// Insertion-ordered; string and integer keys replace an earlier equal key, as in Python.
final class PickleDict: PickleContainer {
    private(set) var entries: [(key: PickleValue, value: PickleValue)] = []
    private var index: [Key: Int] = [:]
    /// State given by BUILD (an OrderedDict's `_metadata`, say): kept, never interpreted.
    var attributes: PickleValue?

    private enum Key: Hashable {
        case string(String), int(Int)
    }

    init() {}

    func set(_ key: PickleValue, _ value: PickleValue) {
        let hashable: Key?
        switch key {
        case .string(let s): hashable = .string(s)
        case .int(let i): hashable = .int(i)
        case .bool(let b): hashable = .int(b ? 1 : 0)
        default: hashable = nil
        }
        if let hashable, let at = index[hashable] {
            entries[at].value = value
            return
        }
        if let hashable { index[hashable] = entries.count }
        entries.append((key, value))
    }

    var children: [PickleValue] { entries.flatMap { [$0.key, $0.value] } + (attributes.map { [$0] } ?? []) }

    func removeChildren() {
        entries = []
        index = [:]
        attributes = nil
    }

    subscript(key: String) -> PickleValue? {
        index[.string(key)].map { entries[$0].value }
    }
}
