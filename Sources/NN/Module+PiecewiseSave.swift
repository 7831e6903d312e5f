import Checkpoints
import Engine
import Foundation

/// Weights that exist whole only a piece at a time (ZeRO-3 keeps each rank's shares between passes): saving a module
/// that has such a source fills one piece's slots, writes its tensors and empties them again before the next, so the
/// whole model is never held at once while its file is written.
public protocol PiecewiseWeights: AnyObject {
    /// The pieces' slot keys (as ``Module/namedSlots(prefix:)`` names them), in the order they are filled.
    var pieceKeys: [[String]] { get }
    /// Shape and dtype of each piece's tensors in the model (its slots are empty until filled).
    var pieceLayout: [String: (shape: [Int], dtype: DType)] { get }
    /// Puts piece `index`'s tensors into the slots.
    func fill(piece index: Int) throws
    /// Empties piece `index`'s slots again.
    func empty(piece index: Int)
}

private let piecewiseSources = ModuleAttachments<PiecewiseWeights>()

extension Module {
    /// Where ``save(to:metadata:)`` takes the weights it does not hold (nil: the slots hold them all).
    public var piecewiseWeights: PiecewiseWeights? {
        get { piecewiseSources[self] }
        set { piecewiseSources[self] = newValue }
    }

    /// ``save(to:metadata:)`` for a module with ``piecewiseWeights``: the tensors the slots hold first, then each
    /// piece filled, written (in checkpoint layout) and emptied in turn.
    func savePiecewise(_ source: PiecewiseWeights, to url: URL, metadata: [String: String]) throws {
        var owners: [String: (localKey: String, owner: Module, slot: ParameterSlot)] = [:]
        forEachSlotWithOwner { key, localKey, owner, slot in owners[key] = (localKey, owner, slot) }
        let layout = source.pieceLayout
        let pieced = Set(source.pieceKeys.joined())
        let held = owners.keys.filter { !pieced.contains($0) && owners[$0]!.slot.value != nil }.sorted()
        func stored(_ key: String, _ tensor: Tensor) -> Tensor {
            owners[key]!.owner.tensorToCheckpoint(key: owners[key]!.localKey, tensor)
        }
        var entries = held.map { key in
            let tensor = stored(key, owners[key]!.slot.value!)
            return SafeTensors.StreamedEntry(key: key, dtype: tensor.dtype, shape: tensor.shape)
        }
        // The checkpoint layout's shapes (a convolution's weight is transposed, and a layer may read its other tensors
        // to lay one out), from lazy stand-ins in the empty slots that are never evaluated.
        let piecedKeys = Array(source.pieceKeys.joined())
        for key in piecedKeys {
            owners[key]!.slot.value = Tensor.zeros(layout[key]!.shape, dtype: layout[key]!.dtype)
        }
        for key in piecedKeys {
            let tensor = stored(key, owners[key]!.slot.value!)
            entries.append(SafeTensors.StreamedEntry(key: key, dtype: tensor.dtype, shape: tensor.shape))
        }
        for key in piecedKeys { owners[key]!.slot.value = nil }
        try SafeTensors.save(streaming: entries, metadata: metadata, to: url) { write in
            for key in held { try write(key, stored(key, owners[key]!.slot.value!)) }
            for (index, keys) in source.pieceKeys.enumerated() {
                try source.fill(piece: index)
                defer { source.empty(piece: index) }
                for key in keys { try write(key, stored(key, owners[key]!.slot.value!)) }
            }
        }
    }
}
