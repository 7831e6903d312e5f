import Engine

/// The ranks of a run with Ulysses sequence parallelism seen as data-parallel replicas: consecutive groups of
/// `gradientShares` ranks hold the same samples (rank r is replica r / gradientShares), so prompts, noise, rewards
/// and held-out prompts are drawn and gathered per replica, once each. The world group itself still shards the
/// training state and sums the gradient shares (``ProcessGroup/gradientAverageScale``).
public final class DataParallelView: ProcessGroup, @unchecked Sendable {
    public let world: ProcessGroup
    /// Ranks per replica (the sequence-parallel group size).
    public let ranksPerReplica: Int
    /// The replicas hold distinct samples.
    public var gradientShares: Int { 1 }

    /// `world` itself when it runs no sequence parallelism.
    public static func of(_ world: ProcessGroup) -> ProcessGroup {
        world.gradientShares == 1 ? world : DataParallelView(world)
    }

    private init(_ world: ProcessGroup) {
        self.world = world
        self.ranksPerReplica = world.gradientShares
    }

    public var rank: Int { world.rank / ranksPerReplica }
    public var worldSize: Int { world.worldSize / ranksPerReplica }

    /// The replicas' values are equal within a sequence-parallel group, so the sum over replicas is the world's sum
    /// over its copies.
    public func allSum(_ tensor: Tensor) throws -> Tensor {
        try world.allSum(tensor) * (1 / Float(ranksPerReplica))
    }

    /// One copy per replica: the first rank's of each sequence-parallel group.
    public func allGather(_ tensor: Tensor) throws -> Tensor {
        let gathered = try world.allGather(tensor)
        guard tensor.ndim > 0, tensor.dim(0) > 0 else { return gathered }
        let rows = tensor.dim(0)
        let firsts = (0..<worldSize).flatMap { replica in
            (0..<rows).map { Int32(replica * ranksPerReplica * rows + $0) }
        }
        return gathered.take(Tensor(firsts), axis: 0)
    }

    public func sumScatter(_ tensor: Tensor) -> Tensor {
        preconditionFailure("DataParallelView: the training state is sharded over the world group, not the replicas")
    }

    public func shardGather(_ shard: Tensor, pieces: [Int]) -> [Tensor] {
        preconditionFailure("DataParallelView: the training state is sharded over the world group, not the replicas")
    }
}
