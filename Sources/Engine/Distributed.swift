import Foundation
internal import CMLXShim

/// The communication back ends MLX's distributed module knows; which ones a build can use is
/// ``DistributedGroup/isAvailable(_:)``'s answer (the CPU wheel: ring, and MPI where a libmpi is installed).
public enum DistributedBackend: String, CaseIterable, Sendable {
    /// The first back end that can form a group from the environment (NCCL under CUDA, ring, MPI, JACCL).
    case any
    /// TCP rings between the ranks of a hostfile (`MLX_HOSTFILE`, `MLX_RANK`): CPUs and several machines.
    case ring
    /// An MPI launcher's processes (`mpirun`).
    case mpi
    /// NVIDIA's collectives, for the CUDA back end.
    case nccl
    /// RDMA over Thunderbolt (macOS).
    case jaccl
}

/// A group that could not form.
public enum DistributedError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The back end is not compiled into this libmlx or cannot load its library.
    case unavailable(backend: DistributedBackend, available: [DistributedBackend])
    /// The back end refused to form a group; `message` is its reason.
    case initFailed(backend: DistributedBackend, message: String)
    /// `split` is not supported by the back end, or its arguments were refused.
    case splitFailed(message: String)

    public var description: String {
        switch self {
        case .unavailable(let backend, let available):
            let names = available.map(\.rawValue).joined(separator: ", ")
            return "the \(backend.rawValue) backend is not available in this build (available: \(names))"
        case .initFailed(let backend, let message):
            return "the \(backend.rawValue) backend could not form a group: \(message)"
        case .splitFailed(let message):
            return "cannot split the group: \(message)"
        }
    }
}

/// A group of processes running the same program, over `mlx::core::distributed`. Collectives are graph nodes like
/// other ops: they take and return tensors (no copy to the host; under CUDA they stay on the GPU) and run when
/// evaluated. Every rank must evaluate the same collectives in the same order. A failed exchange (a rank that exited)
/// is an engine failure at evaluation, recorded like any other (see ``Engine/catchingErrors(_:)``).
///
/// MLX keeps one group per back end and process: a second `init` with the same back end returns the same group.
public final class DistributedGroup: @unchecked Sendable {
    private let handle: OpaquePointer
    public let rank: Int
    public let size: Int

    private init(handle: OpaquePointer) {
        self.handle = handle
        rank = Int(dg.distributedRank(handle))
        size = Int(dg.distributedSize(handle))
    }

    deinit { dg.distributedFree(handle) }

    /// Whether `backend` can form groups in this build.
    public static func isAvailable(_ backend: DistributedBackend) -> Bool {
        let available = dg.distributedIsAvailable(backend.rawValue)
        dg.clearError()
        return available
    }

    /// The back ends this build can use, `any` excluded.
    public static var availableBackends: [DistributedBackend] {
        DistributedBackend.allCases.filter { $0 != .any && isAvailable($0) }
    }

    /// Forms the group `backend` finds in the environment (for ring: `MLX_RANK` and `MLX_HOSTFILE`; this blocks until
    /// the ring's neighbours connect). `any` with nothing to form returns the one-process group.
    public init(backend: DistributedBackend = .any) throws {
        // The ring backend sends without MSG_NOSIGNAL: a rank that exited would kill this one with SIGPIPE instead of
        // failing the collective with a message.
        signal(SIGPIPE, SIG_IGN)
        if backend != .any && !Self.isAvailable(backend) {
            throw DistributedError.unavailable(backend: backend, available: Self.availableBackends)
        }
        guard let handle = dg.distributedInit(backend.rawValue, backend != .any) else {
            let message = dg.lastError().map { String(cString: $0) } ?? "no reason given"
            throw DistributedError.initFailed(backend: backend, message: message)
        }
        self.handle = handle
        rank = Int(dg.distributedRank(handle))
        size = Int(dg.distributedSize(handle))
    }

    /// The ranks with the same `color`, ordered by `key` (negative: by rank). The ring back end does not split.
    public func split(color: Int, key: Int = -1) throws -> DistributedGroup {
        guard let part = dg.distributedSplit(handle, Int32(color), Int32(key)) else {
            throw DistributedError.splitFailed(message: dg.lastError().map { String(cString: $0) } ?? "no reason given")
        }
        return DistributedGroup(handle: part)
    }

    /// The element-wise sum of every rank's `tensor` (equal shapes and dtypes), the same on every rank.
    public func allSum(_ tensor: Tensor) -> Tensor {
        checked("distributed.allSum", [tensor], dg.distributedAllSum(tensor.raw, handle))
    }

    /// Every rank's `tensor` concatenated along axis 0 in rank order (equal shapes), the same on every rank.
    public func allGather(_ tensor: Tensor) -> Tensor {
        checked("distributed.allGather", [tensor], dg.distributedAllGather(tensor.raw, handle))
    }

    /// Sends `tensor` to rank `destination` when evaluated; the result is `tensor` (evaluate it to send).
    public func send(_ tensor: Tensor, to destination: Int) -> Tensor {
        checked("distributed.send", [tensor], dg.distributedSend(tensor.raw, Int32(destination), handle))
    }

    /// A tensor of `shape` and `dtype` received from rank `source` when evaluated.
    public func receive(shape: [Int], dtype: DType, from source: Int) -> Tensor {
        checked(
            "distributed.recv", [],
            withInt32s(shape) { dg.distributedRecv($0, $1, dtype.code, Int32(source), handle) })
    }
}

extension DistributedGroup {
    /// Whether the back end reduce-scatters natively (NCCL); ring and MPI reduce with an all-sum and keep a share. A
    /// collective when the group has several ranks: every rank asks at the same point.
    public func probeNativeSumScatter() -> Bool {
        let native = dg.distributedHasSumScatter(handle)
        dg.clearError()
        return native
    }

    /// This rank's share of the element-wise sum over ranks: axis 0 (divisible by ``size``) split into equal
    /// shares in rank order. `native` as ``probeNativeSumScatter()`` answered.
    public func sumScatter(_ tensor: Tensor, native: Bool) -> Tensor {
        checked("distributed.sumScatter", [tensor], dg.distributedSumScatter(tensor.raw, handle, native))
    }

    /// The all-to-all exchange of sequence parallelism: `tensor` is cut along `splitAxis` into ``size`` equal pieces,
    /// piece j goes to rank j, and the pieces this rank receives are joined along `concatAxis` in rank order (e.g.
    /// `[B, L/size, H, D]` split on heads, joined on the sequence: `[B, L, H/size, D]`). Differentiable: the gradient
    /// is the exchange back. MLX has no all-to-all, so it is an all-gather from which each rank keeps its pieces
    /// (`size − 1` times a native all-to-all's traffic, and a whole gathered tensor in memory for a moment).
    public func allToAll(_ tensor: Tensor, splitAxis: Int, concatAxis: Int) -> Tensor {
        let n = tensor.ndim
        let (split, concat) = ((splitAxis + n) % max(n, 1), (concatAxis + n) % max(n, 1))
        return checked(
            "distributed.allToAll", [tensor], dg.distributedAllToAll(tensor.raw, handle, Int32(split), Int32(concat)))
    }

    /// A flat shard `[n]` gathered to `[size·n]` in rank order and cut into consecutive pieces of `pieces` elements
    /// (the rest is padding). Differentiating through it gives each rank the sum over ranks of the cotangents of its
    /// share (the gradient of a sharded parameter under data parallelism) in one buffer; a plain ``allGather(_:)``
    /// would give only this rank's, and slicing the gathered tensor would cost a whole-size buffer per piece.
    public func shardGather(_ shard: Tensor, native: Bool, pieces: [Int]) -> [Tensor] {
        Self.shardGather(shard, group: self, native: native, pieces: pieces)
    }

    /// ``shardGather(_:native:pieces:)`` of a group, or of one process (`group` nil: no exchange, the same gradient).
    public static func shardGather(_ shard: Tensor, group: DistributedGroup?, native: Bool, pieces: [Int]) -> [Tensor] {
        var outputs = dg.vectorNew()
        let ok = withInt32s(pieces) {
            dg.distributedShardGatherSplit(shard.raw, group?.handle, native, $0, $1, &outputs)
        }
        if !ok { _ = checkStatus("distributed.shardGather", [shard]) }
        return tensors(of: outputs)
    }
}
