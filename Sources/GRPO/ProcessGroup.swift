import Engine
import Foundation

/// The processes a training run spans. The trainer derives per-rank seeds from it, averages gradients and gathers
/// rewards through it, and lets only rank 0 write logs and checkpoints, so nothing in training assumes a single
/// process. Collectives take and return engine tensors, evaluated (so a rank that went away fails here, not later).
public protocol ProcessGroup: AnyObject, Sendable {
    var rank: Int { get }
    var worldSize: Int { get }
    /// The element-wise sum over ranks of equally shaped tensors, the same on every rank (gradient averaging divides
    /// by `worldSize`).
    func allSum(_ tensor: Tensor) throws -> Tensor
    /// Every rank's tensor (equal shapes) concatenated along axis 0 in rank order, the same on every rank.
    func allGather(_ tensor: Tensor) throws -> Tensor
    /// This rank's share of the element-wise sum over ranks: axis 0 (divisible by `worldSize`) split into equal
    /// shares in rank order (ZeRO's reduce-scatter). Lazy: a graph node every rank evaluates at the same point.
    func sumScatter(_ tensor: Tensor) -> Tensor
    /// A flat shard `[n]` gathered to `[worldSize·n]` in rank order and cut into consecutive pieces of `pieces`
    /// elements, differentiable: the gradient is the sum over ranks of the pieces' cotangents, this rank's share of
    /// them (ZeRO-3's gather). Lazy, like ``sumScatter(_:)``.
    func shardGather(_ shard: Tensor, pieces: [Int]) -> [Tensor]
    /// Ranks that each hold a share of one sample's gradient (Ulysses sequence parallelism: 1 without it). Gradient
    /// averaging divides the sum over every rank by `worldSize / gradientShares`, the number of distinct samples.
    var gradientShares: Int { get }
}

extension ProcessGroup {
    /// Rank 0 writes logs, pictures and checkpoints.
    public var isMain: Bool { rank == 0 }

    /// The factor that turns the sum over ranks of the gradients into their average over distinct samples.
    public var gradientAverageScale: Float { Float(gradientShares) / Float(worldSize) }

    /// Every rank's `values`, concatenated in rank order (the same on every rank); the ranks may send different
    /// counts (a rank with no evaluation prompt sends none). Values travel in their own dtype (doubles as float64,
    /// bytes as uint8), so they arrive exactly.
    public func allGather<T: TensorScalar & Numeric>(_ values: [T]) throws -> [T] {
        guard worldSize > 1 else { return values }
        let counts = try allGather(Tensor([Int32(values.count)])).toArray(Int32.self).map(Int.init)
        let longest = counts.max() ?? 0
        guard longest > 0 else { return [] }
        let padded = values + [T](repeating: .zero, count: longest - values.count)
        let gathered = try allGather(Tensor(padded, shape: [1, longest])).toArray(T.self)
        return counts.enumerated().flatMap { rank, count in gathered[(rank * longest)..<(rank * longest + count)] }
    }
}

/// The one-process group: summing and gathering return their input.
public final class SingleProcessGroup: ProcessGroup {
    public init() {}
    public var rank: Int { 0 }
    public var worldSize: Int { 1 }
    public var gradientShares: Int { 1 }
    public func allSum(_ tensor: Tensor) throws -> Tensor { tensor }
    public func allGather(_ tensor: Tensor) throws -> Tensor { tensor }
    public func sumScatter(_ tensor: Tensor) -> Tensor { tensor }
    public func shardGather(_ shard: Tensor, pieces: [Int]) -> [Tensor] {
        DistributedGroup.shardGather(shard, group: nil, native: true, pieces: pieces)
    }
}

/// A per-rank seed: rank 0 keeps the run's seed, so one-process runs are unchanged by the scheme.
public func rankSeed(_ seed: UInt64, rank: Int) -> UInt64 {
    seed &+ UInt64(rank) &* 0x9E37_79B9_7F4A_7C15
}
