import Engine

/// Ulysses sequence parallelism (DeepSpeed-Ulysses, as the seed runs HunyuanVideo over an `sp_size` group): the ranks
/// of `group` hold the same sample, each a consecutive shard of its long token sequence, and every layer but attention
/// works on the shard alone. Attention exchanges q, k and v so that each rank holds the whole sequence for `heads /
/// size` heads, attends, and exchanges the output back. A prefix of `replicatedLength` tokens (the text) is held whole
/// by every rank: its q/k/v are cut to the rank's heads, and every rank gets the prefix's output of every head back.
///
/// Gradients: every rank differentiates the same loss, and each rank's gradient of a parameter is its share, so the
/// sum over the group's ranks is the whole gradient. Each attention is two exchanges (q, k, v together, then the
/// output): collectives that do not depend on each other could run in a different order on different ranks.
///
/// The seed's exchange, `all_to_all_4D` with `all_gather` for the text heads:
/// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/utils/communications.py
/// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/models/hunyuan/modules/attenion.py
///
/// Deviation: MLX has no all-to-all collective; ``DistributedGroup/allToAll(_:splitAxis:concatAxis:)`` is an
/// all-gather that keeps the rank's pieces (the same numbers, more traffic). Shapes: B batch, Lr replicated tokens,
/// S sharded tokens in all, S/P per rank, H heads, D head width.
public struct SequenceParallelism: @unchecked Sendable {
    public let group: DistributedGroup
    /// Leading tokens of every rank's sequence that all ranks hold whole.
    public var replicatedLength: Int

    public init(group: DistributedGroup, replicatedLength: Int = 0) {
        self.group = group
        self.replicatedLength = replicatedLength
    }

    public var size: Int { group.size }
    public var rank: Int { group.rank }

    /// The tokens `lowerBound ..< upperBound` of a sharded sequence of `length` that this rank holds (equal shards in
    /// rank order; `length` must divide by ``size``).
    public func shard(of length: Int) -> Range<Int> {
        precondition(
            length % size == 0,
            "SequenceParallelism: \(length) tokens do not split into \(size) equal shards; choose a frame count or "
                + "size whose token count divides by the group's \(size) ranks")
        let piece = length / size
        return rank * piece..<(rank + 1) * piece
    }

    /// This rank's shard of the sharded tokens `[B, S, ...]` and its rows of `rotary`'s tables, which cover the
    /// ``replicatedLength`` prefix then the S tokens (`[L, D]`, or `[B, L, D]` per sample).
    public func shard(_ tokens: Tensor, rotary: RotaryEmbedding) -> (tokens: Tensor, rotary: RotaryEmbedding) {
        guard case let .tables(cos, sin, layout) = rotary else {
            preconditionFailure("SequenceParallelism: rotary positions must be given as tables to be sharded")
        }
        let range = shard(of: tokens.dim(1)), prefix = replicatedLength
        let rows = (prefix + range.lowerBound)..<(prefix + range.upperBound)
        func local(_ table: Tensor) -> Tensor {
            let own = table[.ellipsis, rows, .all]
            guard prefix > 0 else { return own }
            return concatenated([table[.ellipsis, ..<prefix, .all], own], axis: table.ndim - 2)
        }
        return (tokens[.all, range], .tables(cos: local(cos), sin: local(sin), layout: layout))
    }

    /// Every rank's shard `[B, S/P, ...]` joined into `[B, S, ...]`, for the model's output, from which every rank
    /// computes the same loss: each rank's backward then starts from its own shard of that loss's cotangent (MLX's
    /// all-gather gradient), so the shards' gradients add up to the whole once over the group.
    public func gatherSequence(_ shard: Tensor) -> Tensor {
        guard size > 1 else { return shard }
        return group.allGather(shard.swappedAxes(0, 1)).swappedAxes(0, 1)
    }

    /// `attend` (fused attention on `[B, L, h, D]` heads-after-sequence tensors, over the whole sequence) for this
    /// rank's `q`, `k`, `v [B, Lr + S/P, H, D]` (already normalised and rotated at their global positions). Returns
    /// the rank's `[B, Lr + S/P, H, D]` output.
    public func attention(
        _ q: Tensor, _ k: Tensor, _ v: Tensor, attend: (Tensor, Tensor, Tensor) -> Tensor
    ) -> Tensor {
        let heads = q.dim(2)
        precondition(
            k.dim(2) == heads && v.dim(2) == heads && heads % size == 0,
            "SequenceParallelism: \(heads) query heads and \(k.dim(2)) key/value heads must be equal and divide by "
                + "the group's \(size) ranks")
        let prefix = replicatedLength
        let local = heads / size, first = rank * local
        // q, k, v's shards [3, B, S/P, H, D] → [3, B, S, H/P, D] in one exchange; the prefix cut to the rank's heads.
        let shards = stacked([q[.all, prefix...], k[.all, prefix...], v[.all, prefix...]])
        let wholes = group.allToAll(shards, splitAxis: 3, concatAxis: 2)
        func joined(_ t: Tensor, _ index: Int) -> Tensor {
            guard prefix > 0 else { return wholes[index] }
            return concatenated([t[.all, ..<prefix, first..<(first + local)], wholes[index]], axis: 1)
        }
        let out = attend(joined(q, 0), joined(k, 1), joined(v, 2))  // [B, Lr + S, H/P, D]
        guard prefix > 0 else { return group.allToAll(out, splitAxis: 1, concatAxis: 2) }
        // One exchange back for both parts: the piece for rank j is [the prefix, shard j], so every rank gets every
        // rank's heads of the prefix and of its own shard. Its gradient sums the prefix's P copies: the sum over
        // ranks of their cotangents of this rank's heads.
        let (b, d) = (out.dim(0), out.dim(3)), piece = (out.dim(1) - prefix) / size
        let copies = out[.all, ..<prefix].expandedDims(axis: 1).broadcast(to: [b, size, prefix, local, d])
        let pieces = out[.all, prefix...].reshaped([b, size, piece, local, d])
        let packed = concatenated([copies, pieces], axis: 2).reshaped([b, size * (prefix + piece), local, d])
        return group.allToAll(packed, splitAxis: 1, concatAxis: 2)
    }
}

/// A network whose forward pass can run over a sequence-parallel group (its blocks on one shard of the tokens each).
public protocol SequenceParallelizable: AnyObject {
    var sequenceParallel: SequenceParallelism? { get set }
}
