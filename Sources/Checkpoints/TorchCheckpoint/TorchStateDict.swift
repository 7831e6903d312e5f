import Foundation

// From the unpickled top object to `[key: tensor]`. torch.save is given a state dict (dict / OrderedDict of tensors),
// or a training checkpoint that wraps one (`{'state_dict': …, 'epoch': 3}`, `{'model': …, 'optimizer': …}`),
// often with DataParallel's `module.` in front of every key. The rules, in order:
//   1. `stateDictKey` given: that entry of the top dict ("a/b" for nested entries) is the state dict.
//   2. A top dict holding tensors directly is the state dict.
//   3. Otherwise the first of `wrapperKeys` present whose value holds tensors is.
//   4. Otherwise the whole object is.
// The chosen dict is flattened (nested dicts and lists join their keys with "."), entries that are not tensors
// (epoch numbers, strings, settings; a dict or list without tensors counts as one entry) are skipped and listed, and
// a `module.` prefix is removed when every key has it (a model may have a submodule named `module` of its own).

enum TorchStateDict {
    /// Entries that wrap the model's state dict in training checkpoints, in order of preference.
    static let wrapperKeys = [
        "state_dict", "model_state_dict", "model", "module", "net", "network", "params", "weights"
    ]

    struct Flattened {
        var tensors: [String: TorchTensorReference] = [:]
        /// Keys of entries that are not tensors.
        var skipped: [String] = []
    }

    static func flatten(_ top: PickleValue, stateDictKey: String?, file: String) throws -> Flattened {
        var root = top
        var otherEntries: [String] = []  // top-level entries beside the chosen wrapper, reported as skipped
        if let stateDictKey {
            for component in stateDictKey.split(separator: "/").map(String.init) {
                guard case .dict(let dict) = root else {
                    throw TorchCheckpointError.stateDictKeyThroughNonDict(
                        file: file, key: stateDictKey, component: component, found: root.kind)
                }
                guard let value = dict[component] else {
                    throw TorchCheckpointError.stateDictKeyMissing(
                        file: file, key: stateDictKey, component: component, available: keyList(dict))
                }
                root = value
            }
        } else if case .dict(let dict) = top,
            !dict.entries.contains(where: { if case .tensor = $0.value { return true } else { return false } })
        {
            if let wrapper = wrapperKeys.first(where: { dict[$0].map(TorchStateDict.holdsTensors) ?? false }) {
                root = dict[wrapper]!
                otherEntries = dict.entries.compactMap { entry in
                    guard case .string(let key) = entry.key, key != wrapper else { return nil }
                    return key
                }
            }
        }
        switch root {
        case .dict, .list: break
        case .tensor(let reference):
            // `torch.save(tensor, path)`, as DanceGRPO's preprocessing stores every embedding: the one tensor, keyed
            // "".
            var single = Flattened()
            single.tensors[TorchCheckpointFile.singleTensorKey] = reference
            return single
        default: throw TorchCheckpointError.notAStateDict(file: file, found: root.kind)
        }
        var result = Flattened()
        let holding = TensorHolders(root)
        func holdsTensors(_ value: PickleValue) -> Bool { holding.contains(value) }
        // each container is flattened once (pickles can share and nest them at will)
        var seen = Set<ObjectIdentifier>()
        func visit(_ value: PickleValue, _ name: String, depth: Int) throws {
            guard depth < 64 else { throw TorchCheckpointError.nestedTooDeep(file: file, entry: name) }
            func child(_ key: String) -> String { name.isEmpty ? key : "\(name).\(key)" }
            switch value {
            case .tensor(let reference):
                guard result.tensors[name] == nil else {
                    throw TorchCheckpointError.duplicateKey(file: file, key: name)
                }
                result.tensors[name] = reference
            case .dict where !name.isEmpty && !holdsTensors(value),
                .list where !name.isEmpty && !holdsTensors(value):
                result.skipped.append(name)  // a dict or list of settings: one skipped entry
            case .dict(let dict):
                guard seen.insert(ObjectIdentifier(dict)).inserted else { result.skipped.append(name); return }
                for (key, item) in dict.entries {
                    switch key {
                    case .string(let s): try visit(item, child(s), depth: depth + 1)
                    case .int(let i): try visit(item, child(String(i)), depth: depth + 1)
                    default: result.skipped.append(child("<\(key.kind)>"))
                    }
                }
            case .list(let list):
                guard seen.insert(ObjectIdentifier(list)).inserted else { result.skipped.append(name); return }
                for (i, item) in list.items.enumerated() { try visit(item, child(String(i)), depth: depth + 1) }
            case .tuple(let tuple) where holdsTensors(value):
                guard seen.insert(ObjectIdentifier(tuple)).inserted else { result.skipped.append(name); return }
                for (i, item) in tuple.items.enumerated() { try visit(item, child(String(i)), depth: depth + 1) }
            default:
                result.skipped.append(name)
            }
        }
        try visit(root, "", depth: 0)
        result.skipped += otherEntries
        // DataParallel / DistributedDataParallel save every key as `module.<key>`.
        let prefix = "module."
        if !result.tensors.isEmpty, result.tensors.keys.allSatisfy({ $0.hasPrefix(prefix) }) {
            result.tensors = Dictionary(
                uniqueKeysWithValues: result.tensors.map { (String($0.key.dropFirst(prefix.count)), $0.value) })
        }
        result.skipped.sort()
        return result
    }

    /// Whether `value` is or contains a tensor (iterative, each container once: pickles can be cyclic and deep).
    static func holdsTensors(_ value: PickleValue) -> Bool {
        var seen = Set<ObjectIdentifier>()
        var work = [value]
        while let item = work.popLast() {
            if case .tensor = item { return true }
            guard let container = item.container as? PickleContainer, seen.insert(ObjectIdentifier(container)).inserted
            else { continue }
            work.append(contentsOf: container.children)
        }
        return false
    }

    /// Which containers reachable from a root hold a tensor, found for all of them in one pass (a container is asked
    /// once per reference while flattening; answering each question with its own search would take time quadratic in
    /// the pickle's size for a shared subgraph, and a hostile file could then stall the reader).
    struct TensorHolders {
        private var holders = Set<ObjectIdentifier>()

        init(_ root: PickleValue) {
            // Every container once, with the containers that refer to it; those that hold a tensor directly start a
            // walk up through their referrers.
            var referrers: [ObjectIdentifier: [ObjectIdentifier]] = [:]
            var seen = Set<ObjectIdentifier>()
            var pending: [ObjectIdentifier] = []
            var work: [PickleContainer] = []
            if let container = root.container as? PickleContainer {
                seen.insert(ObjectIdentifier(container))
                work.append(container)
            }
            while let container = work.popLast() {
                let id = ObjectIdentifier(container)
                for child in container.children {
                    if case .tensor = child { pending.append(id) }
                    guard let inner = child.container as? PickleContainer else { continue }
                    let childID = ObjectIdentifier(inner)
                    referrers[childID, default: []].append(id)
                    if seen.insert(childID).inserted { work.append(inner) }
                }
            }
            while let id = pending.popLast() {
                guard holders.insert(id).inserted else { continue }
                pending.append(contentsOf: referrers[id] ?? [])
            }
        }

        func contains(_ value: PickleValue) -> Bool {
            if case .tensor = value { return true }
            guard let container = value.container else { return false }
            return holders.contains(ObjectIdentifier(container))
        }
    }

    private static func keyList(_ dict: PickleDict) -> String {
        let names = dict.entries.map { entry -> String in
            if case .string(let s) = entry.key { return "'\(s)'" }
            return entry.key.kind
        }
        return names.isEmpty
            ? "no entries" : "entries " + names.prefix(12).joined(separator: ", ") + (names.count > 12 ? ", …" : "")
    }
}
