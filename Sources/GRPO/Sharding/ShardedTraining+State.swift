import Checkpoints
import Engine
import Foundation
import NN

// Saved states are written per parameter, as stage 0 writes them (`state.<parameter>.exp_avg`,
// `shadow.<parameter>`), so that a checkpoint does not depend on the stage or the number of ranks it was written
// with: a run resumes on another rank count, and other tools read the files as they read any optimizer state.
// In memory, the optimizer and the EMA hold the same states per share (`state.units.<i>.share.exp_avg`).

/// A saved state that cannot be cut into this run's shares.
public enum ShardedStateError: Error, CustomStringConvertible, Equatable {
    /// `source` lacks some tensors a unit needs, or holds ones no trained parameter has.
    case mismatch(source: String, problems: [String])

    public var description: String {
        switch self {
        case .mismatch(let source, let problems):
            return "\(source): does not fit the trained parameters:\n  "
                + problems.prefix(8).joined(separator: "\n  ")
                + (problems.count > 8 ? "\n  … (\(problems.count) problems)" : "")
        }
    }
}

extension ShardedTraining {
    /// A per-share state (an optimizer's or EMA's `stateTensors()`) as the per-parameter state stage 0 writes: each
    /// share-sized tensor is gathered over the ranks and cut into the unit's parameters, each scalar (a step count)
    /// repeated for them; keys without a share (`step`, `update_count`) are kept. A collective (every rank gets the
    /// whole state); to write it without holding it whole, use ``forEachGatheredTensor(_:_:)``.
    public func gatherState(_ state: [String: Tensor]) throws -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        try forEachGatheredTensor(state) { result[$0] = $1 }
        return result
    }

    /// The per-parameter tensors of ``gatherState(_:)``, one share-sized tensor gathered at a time and handed to
    /// `visit` piece by piece, in the order of ``gatheredLayout(_:)``. A collective: every rank calls it with the
    /// same keys (only the writing rank needs to keep anything).
    public func forEachGatheredTensor(_ state: [String: Tensor], _ visit: (String, Tensor) throws -> Void) throws {
        for key in state.keys.sorted() {
            let tensor = state[key]!
            guard let (unit, range) = shareMarker(in: key) else {
                try visit(key, tensor)
                continue
            }
            let u = units[unit]
            if tensor.shape == [u.shareSize] {
                let whole = try processGroup.allGather(tensor)
                for (parameter, piece) in zip(u.keys, u.split(whole, dtype: tensor.dtype)) {
                    try visit(key.replacingCharacters(in: range, with: parameter), piece)
                }
            } else {
                for parameter in u.keys { try visit(key.replacingCharacters(in: range, with: parameter), tensor) }
            }
        }
    }

    /// The tensors ``forEachGatheredTensor(_:_:)`` visits (key, dtype, shape), in its order, without gathering.
    public func gatheredLayout(_ state: [String: Tensor]) -> [SafeTensors.StreamedEntry] {
        state.keys.sorted().flatMap { key -> [SafeTensors.StreamedEntry] in
            let tensor = state[key]!
            guard let (unit, range) = shareMarker(in: key) else {
                return [SafeTensors.StreamedEntry(key: key, dtype: tensor.dtype, shape: tensor.shape)]
            }
            let u = units[unit]
            let whole = tensor.shape == [u.shareSize]
            return u.keys.indices.map { i in
                SafeTensors.StreamedEntry(
                    key: key.replacingCharacters(in: range, with: u.keys[i]), dtype: tensor.dtype,
                    shape: whole ? u.shapes[i] : tensor.shape)
            }
        }
    }

    /// Writes a per-share state as the per-parameter safetensors file stage 0 writes, gathering one share at a time
    /// (no rank holds the whole state). A collective: every rank calls it; only `writes` writes the file.
    public func saveGatheredState(
        _ state: [String: Tensor], metadata: [String: String], to url: URL, writes: Bool
    ) throws {
        guard writes else { return try forEachGatheredTensor(state) { _, _ in } }
        try SafeTensors.save(streaming: gatheredLayout(state), metadata: metadata, to: url) { write in
            try forEachGatheredTensor(state, write)
        }
    }

    /// The inverse of ``gatherState(_:)``: a per-parameter state (keys `<prefix><parameter><suffix>` for each
    /// `prefix` in `prefixes`) cut into this rank's shares. Every parameter of a unit must have the same suffixes;
    /// scalars (step counts) are taken from the unit's first parameter. Not a collective.
    public func shardState(_ state: [String: Tensor], prefixes: [String], source: String) throws -> [String: Tensor] {
        var owner: [String: Int] = [:]
        for (i, unit) in units.enumerated() { for key in unit.keys { owner[key] = i } }
        // One share-sized state tensor per (prefix, unit, suffix): its parameters' tensors by parameter key.
        struct Group: Hashable {
            var prefix: String
            var unit: Int
            var suffix: String
        }
        var grouped: [Group: [String: Tensor]] = [:]
        var result: [String: Tensor] = [:]
        var problems: [String] = []
        for (key, tensor) in state {
            guard let prefix = prefixes.first(where: { key.hasPrefix($0) }) else {
                result[key] = tensor
                continue
            }
            let rest = String(key.dropFirst(prefix.count))
            // The longest parameter key the rest starts with (a key may prefix another: `proj` and `proj_out`).
            let match = parameterKey(startingWith: rest, among: owner)
            guard let parameter = match else {
                problems.append("'\(key)' belongs to no trained parameter")
                continue
            }
            let suffix = String(rest.dropFirst(parameter.count))
            grouped[Group(prefix: prefix, unit: owner[parameter]!, suffix: suffix), default: [:]][parameter] = tensor
        }
        let rank = processGroup.rank
        for (group, tensors) in grouped {
            let unit = units[group.unit]
            func named(_ parameter: String) -> String { group.prefix + parameter + group.suffix }
            let missing = unit.keys.filter { tensors[$0] == nil }
            guard missing.isEmpty else {
                problems.append(
                    "missing \(missing.prefix(4).map { "'\(named($0))'" }.joined(separator: ", "))")
                continue
            }
            let key = named(ShareModule.key(group.unit))
            let first = tensors[unit.keys[0]]!
            if first.ndim == 0 && !unit.shapes[0].isEmpty {
                result[key] = first
                continue
            }
            let wrong = unit.keys.indices.filter { tensors[unit.keys[$0]]!.shape != unit.shapes[$0] }
            guard wrong.isEmpty else {
                problems += wrong.prefix(4).map { i in
                    let shape = tensors[unit.keys[i]]!.shape
                    return "'\(named(unit.keys[i]))': shape \(shape), parameter has \(unit.shapes[i])"
                }
                continue
            }
            result[key] = unit.share(of: unit.flatten(unit.keys.map { tensors[$0]! }), rank: rank)
        }
        guard problems.isEmpty else { throw ShardedStateError.mismatch(source: source, problems: problems.sorted()) }
        return result
    }

    /// The unit of a per-share key (`…units.<i>.share…`) and where the marker is.
    private func shareMarker(in key: String) -> (Int, Range<String.Index>)? {
        guard let start = key.range(of: "units.") else { return nil }
        let digits = key[start.upperBound...].prefix { $0.isNumber }
        guard let unit = Int(digits), unit < units.count else { return nil }
        let marker = "units.\(unit).share"
        guard let range = key.range(of: marker), range.lowerBound == start.lowerBound else { return nil }
        return (unit, range)
    }

    private func parameterKey(startingWith rest: String, among owner: [String: Int]) -> String? {
        if owner[rest] != nil { return rest }
        var candidate = rest
        while let dot = candidate.lastIndex(of: ".") {
            candidate = String(candidate[..<dot])
            if owner[candidate] != nil { return candidate }
        }
        return nil
    }
}
