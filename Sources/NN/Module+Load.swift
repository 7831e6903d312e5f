import Checkpoints
import Engine
import Foundation

/// A checkpoint that does not fit a module tree: every missing, unexpected and mis-shaped key at once.
public struct CheckpointMismatch: Error, CustomStringConvertible, Sendable {
    public let source: String
    public let missing: [String]
    public let unexpected: [String]
    public let mismatched: [(key: String, expected: [Int], found: [Int])]

    public var description: String {
        var lines = ["\(source): checkpoint does not match the model"]
        func list(_ title: String, _ keys: [String]) {
            guard !keys.isEmpty else { return }
            let shown = keys.prefix(8).joined(separator: ", ")
            lines.append("  \(title) (\(keys.count)): \(shown)\(keys.count > 8 ? ", …" : "")")
        }
        list("missing keys", missing)
        list("unexpected keys", unexpected)
        if !mismatched.isEmpty {
            lines.append("  wrong shapes (\(mismatched.count)):")
            for m in mismatched.prefix(8) { lines.append("    \(m.key): expected \(m.expected), found \(m.found)") }
        }
        return lines.joined(separator: "\n")
    }
}

extension Module {
    /// Loads tensors (in checkpoint layout) into the tree. With `strict`, every key of the model must be present,
    /// no extra key may be given, and every shape must match; all problems are reported together and nothing is
    /// changed unless the whole load succeeds. `dtype` converts floating tensors (nil keeps the checkpoint's).
    public func load(
        _ tensors: [String: Tensor], strict: Bool = true, dtype: DType? = nil, source: String = "checkpoint"
    ) throws {
        try load(keys: Set(tensors.keys), strict: strict, dtype: dtype, source: source) { tensors[$0]! }
    }

    /// Loads from a checkpoint (a safetensors file or folder, sharded with an index or not; a torch.save file),
    /// reading one tensor at a time so the peak memory is the model plus one tensor, whatever the checkpoint's size.
    public func load(from checkpoint: any CheckpointSource, strict: Bool = true, dtype: DType? = nil) throws {
        try load(keys: Set(checkpoint.keys), strict: strict, dtype: dtype, source: checkpoint.source) {
            try checkpoint.tensor($0)
        }
    }

    /// Loads from a safetensors file or a folder of them, or a PyTorch `torch.save` file (`.pt`, `.pth`, `.bin`,
    /// `.ckpt`; see ``openCheckpoint(path:)``).
    public func load(contentsOf url: URL, strict: Bool = true, dtype: DType? = nil) throws {
        try load(from: openCheckpoint(path: url), strict: strict, dtype: dtype)
    }

    /// Writes the tree in checkpoint layout to one safetensors file, atomically.
    public func save(to url: URL, metadata: [String: String] = [:]) throws {
        if let source = piecewiseWeights { return try savePiecewise(source, to: url, metadata: metadata) }
        try SafeTensors.save(checkpointTensors(), metadata: metadata, to: url)
    }

    private func load(keys: Set<String>, strict: Bool, dtype: DType?, source: String, fetch: (String) throws -> Tensor)
        throws
    {
        var missing: [String] = [], mismatched: [(String, [Int], [Int])] = []
        var assignments: [(ParameterSlot, Tensor)] = []
        var used = Set<String>()
        var failure: Error?
        forEachSlotWithOwner { key, localKey, owner, slot in
            guard failure == nil, let current = slot.value else { return }  // nil: a tensor this configuration lacks
            guard keys.contains(key) else { missing.append(key); return }
            used.insert(key)
            let stored: Tensor
            do { stored = try fetch(key) } catch { failure = error; return }
            var value = owner.tensorFromCheckpoint(key: localKey, stored)
            if value.shape != current.shape {
                mismatched.append((key, owner.tensorToCheckpoint(key: localKey, current).shape, stored.shape))
                return
            }
            if let dtype, value.dtype.isFloatingPoint, value.dtype != dtype {
                // Converted now, so the source tensor is freed before the next one is read (a lazy conversion would
                // keep every source tensor alive until the caller evaluates: 2.5× the model at peak).
                value = value.asType(dtype)
                eval(value)
            }
            assignments.append((slot, value))
        }
        if let failure { throw failure }
        let unexpected = keys.filter { !used.contains($0) }.sorted()
        if !mismatched.isEmpty || (strict && (!missing.isEmpty || !unexpected.isEmpty)) {
            throw CheckpointMismatch(
                source: source, missing: missing, unexpected: unexpected,
                mismatched: mismatched.map { ($0.0, $0.1, $0.2) })
        }
        for (slot, value) in assignments { slot.value = value }
    }
}
