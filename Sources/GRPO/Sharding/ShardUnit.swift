import Engine
import NN

/// A group of trainable tensors sharded together: one checkpointed block (ZeRO-3 gathers a block for its pass), or
/// everything outside the blocks. Its tensors, in key order, are laid end to end as one float32 vector of `count`
/// elements, zero-padded to `worldSize · shareSize` so that every rank owns an equal share: rank r owns elements
/// `r · shareSize ..< (r + 1) · shareSize`, the layout of DeepSpeed's flat partitions.
///
/// Shapes: a unit's flat vector `[worldSize · shareSize]`, a share `[shareSize]`.
struct ShardUnit {
    /// The block's key in the model ("transformer_blocks.3"), or "" for the tensors outside every block.
    let name: String
    let keys: [String]
    let slots: [ParameterSlot]
    let shapes: [[Int]]
    /// The dtype each tensor has in the model (the flat vector is float32).
    let dtypes: [DType]
    /// Where each tensor starts in the flat vector.
    let offsets: [Int]
    /// Elements of all tensors together (without padding).
    let count: Int
    let shareSize: Int
    let worldSize: Int

    init(name: String, entries: [(key: String, slot: ParameterSlot)], worldSize: Int) {
        self.name = name
        self.worldSize = worldSize
        keys = entries.map(\.key)
        slots = entries.map(\.slot)
        shapes = entries.map { $0.slot.value!.shape }
        dtypes = entries.map { $0.slot.value!.dtype }
        var offsets: [Int] = []
        var total = 0
        for shape in shapes {
            offsets.append(total)
            total += shape.reduce(1, *)
        }
        self.offsets = offsets
        count = total
        shareSize = max(1, (total + worldSize - 1) / worldSize)
    }

    /// The unit's tensors (in key order) as one padded float32 vector.
    func flatten(_ tensors: [Tensor]) -> Tensor {
        var pieces = tensors.map { $0.asType(.float32).reshaped([-1]) }
        let padding = worldSize * shareSize - count
        if padding > 0 { pieces.append(Tensor.zeros([padding])) }
        return concatenated(pieces, axis: 0)
    }

    /// Rank `rank`'s share of a flat vector, in its own storage: the engine's slices are views that keep the whole
    /// vector's buffer alive, which would make a kept share (weights, moments) cost the whole unit.
    func share(of flat: Tensor, rank: Int) -> Tensor {
        let start = Double(rank * shareSize)
        return flat.take(Tensor.arange(start, start + Double(shareSize), dtype: .int32), axis: 0)
    }

    /// Elements of each tensor.
    var sizes: [Int] { shapes.map { $0.reduce(1, *) } }

    /// The tensors of a flat vector, shaped as in the model, in `dtype` (each tensor's own when nil).
    func split(_ flat: Tensor, dtype: DType? = nil) -> [Tensor] {
        shaped(zip(offsets, sizes).map { flat[$0..<($0 + $1)] }, dtype: dtype)
    }

    /// The unit's tensors from their flat pieces, shaped as in the model, in `dtype` (each tensor's own when nil).
    func shaped(_ pieces: [Tensor], dtype: DType?) -> [Tensor] {
        shapes.indices.map { pieces[$0].reshaped(shapes[$0]).asType(dtype ?? dtypes[$0]) }
    }

    /// Rank `rank`'s share of the tensors the model's slots hold now.
    func shareOfModel(rank: Int) -> Tensor {
        share(of: flatten(slots.map { $0.value! }), rank: rank)
    }

    /// Empties the unit's slots in the model (ZeRO-3 between passes).
    func empty() {
        for slot in slots { slot.value = nil }
    }
}

/// A module whose parameters are the shares this rank owns, `units.<i>.share` `[shareSize]`: what AdamW and the
/// EMA update under ZeRO stages 1–3, with their usual code and state layout.
final class ShareModule: Module {
    final class Share: Module {
        @Param var share: Tensor

        init(_ share: Tensor) {
            self.share = share
            super.init()
        }
    }

    let units: [Share]

    init(_ shares: [Tensor]) {
        units = shares.map(Share.init)
        super.init()
    }

    static func key(_ unit: Int) -> String { "units.\(unit).share" }

    var shares: [Tensor] { units.map(\.share) }
}
