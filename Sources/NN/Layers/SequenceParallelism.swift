import Engine

/// Ulysses sequence parallelism (DeepSpeed-Ulysses, as the seed runs HunyuanVideo over an `sp_size` group): the ranks
/// of `group` hold the same sample, each a consecutive shard of its long token sequence, and every layer but attention
/// works on the shard alone. Attention exchanges q, k and v so that each rank holds the whole sequence for `heads /
/// size` heads, attends, and exchanges the output back. A prefix of `replicatedLength` tokens (the text) is held whole
/// by every rank: its q/k/v are cut to the rank's heads, and its output is gathered over the heads again.
///
/// Gradients: every rank differentiates the same loss, and each rank's gradient of a parameter is its share, so the
/// sum over the group's ranks is the whole gradient (the prefix's gather sums its cotangents over the ranks).
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
    /// Whether the back end reduce-scatters natively (``DistributedGroup/probeNativeSumScatter()``).
    public let nativeSumScatter: Bool
    /// Leading tokens of every rank's sequence that all ranks hold whole.
    public var replicatedLength: Int

    public init(group: DistributedGroup, nativeSumScatter: Bool, replicatedLength: Int = 0) {
        self.group = group
        self.nativeSumScatter = nativeSumScatter
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
        // [B, Lr + S/P, H, D] → [B, Lr + S, H/P, D]: the prefix cut to this rank's heads, the shards exchanged.
        func exchange(_ t: Tensor) -> Tensor {
            let whole = group.allToAll(t[.all, prefix...], splitAxis: 2, concatAxis: 1)
            guard prefix > 0 else { return whole }
            return concatenated([t[.all, ..<prefix, first..<(first + local)], whole], axis: 1)
        }
        let out = attend(exchange(q), exchange(k), exchange(v))
        let shardOut = group.allToAll(out[.all, prefix...], splitAxis: 1, concatAxis: 2)
        guard prefix > 0 else { return shardOut }
        let prefixOut = group.gather(out[.all, ..<prefix], alongAxis: 2, native: nativeSumScatter)
        return concatenated([prefixOut, shardOut], axis: 1)
    }
}

/// A network whose forward pass can run over a sequence-parallel group (its blocks on one shard of the tokens each).
public protocol SequenceParallelizable: AnyObject {
    var sequenceParallel: SequenceParallelism? { get set }
}
