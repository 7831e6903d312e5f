import Engine
import Foundation

/// A process group over MLX's distributed module (``DistributedGroup``): ring over TCP on CPUs and across machines,
/// MPI, NCCL under CUDA. Each collective is evaluated at once, inside its own error scope, so that a failed exchange
/// (a rank that exited closes its sockets) becomes a ``ProcessGroupError/collectiveFailed`` naming the ranks this one
/// exchanges with, rather than a failure some later evaluation reports.
public final class DistributedProcessGroup: ProcessGroup, @unchecked Sendable {
    public let group: DistributedGroup
    public var rank: Int { group.rank }
    public var worldSize: Int { group.size }
    /// The sequence-parallel group size when the ranks run Ulysses sequence parallelism (see ``DataParallelView``).
    public let gradientShares: Int

    public init(_ group: DistributedGroup, gradientShares: Int = 1) {
        precondition(gradientShares >= 1 && group.size % gradientShares == 0)
        self.group = group
        self.gradientShares = gradientShares
    }

    /// Whether the back end reduce-scatters natively: asked (a collective) the first time a sharded collective is
    /// built, which every rank does at the same point of the same step.
    private lazy var nativeSumScatter = group.probeNativeSumScatter()

    public func sumScatter(_ tensor: Tensor) -> Tensor {
        group.sumScatter(tensor, native: nativeSumScatter)
    }

    public func shardGather(_ shard: Tensor, pieces: [Int]) -> [Tensor] {
        group.shardGather(shard, native: nativeSumScatter, pieces: pieces)
    }

    public func allSum(_ tensor: Tensor) throws -> Tensor {
        try evaluated("allSum", tensor, group.allSum)
    }

    public func allGather(_ tensor: Tensor) throws -> Tensor {
        try evaluated("allGather", tensor, group.allGather)
    }

    /// The input is computed first, so that its own failures keep their names; only the exchange's are the group's.
    private func evaluated(_ operation: String, _ input: Tensor, _ collective: (Tensor) -> Tensor) throws -> Tensor {
        try Engine.catchingErrors { eval(input) }
        do {
            return try Engine.catchingErrors {
                let tensor = collective(input)
                eval(tensor)
                return tensor
            }
        } catch let error as EngineError {
            throw ProcessGroupError.collectiveFailed(
                rank: rank, worldSize: worldSize, operation: operation, message: error.message)
        }
    }
}
