import Engine
import Foundation

/// A process group that cannot form or breaks. Each message is one line naming the file, variable, address or rank.
public enum ProcessGroupError: Error, CustomStringConvertible, Equatable {
    // Hostfiles

    /// The hostfile cannot be read; `reason` is the system's.
    case hostfileUnreadable(path: String, reason: String)
    /// The hostfile is not JSON, or not one of the two layouts (`expected` says which part is wrong).
    case hostfileMalformed(path: String, expected: String, found: String)
    /// An address in the hostfile is not `IPv4:port`.
    case hostfileAddress(path: String, rank: Int, address: String)
    /// `--processes N` with a hostfile that lists another number of ranks.
    case hostfileRankCount(path: String, ranks: Int, processes: Int)
    /// A hostfile names every rank's address but nothing says which rank this process is.
    case rankNotGiven(path: String)

    // The environment

    /// `variable` (MLX_RANK or torchrun's RANK) is missing, not an integer or outside `0..<worldSize`.
    case invalidRank(variable: String, value: String?, worldSize: Int)
    /// torchrun's `WORLD_SIZE` > 1 but `MASTER_PORT` is missing or not a port.
    case invalidMasterPort(String?)
    /// torchrun's `MASTER_ADDR` is not an IPv4 address (or `localhost`).
    case invalidMasterAddress(String)
    /// torchrun's variables describe several machines, which need every rank's address (a hostfile).
    case torchrunAcrossMachines(worldSize: Int, localWorldSize: Int)
    /// `--processes N` starts ranks with the ring backend; another one was asked for.
    case processesNeedRing(backend: DistributedBackend)

    // Forming the group

    /// The backend is unavailable or refused to form the group.
    case backend(DistributedError)
    /// Another process listens on this rank's address.
    case addressInUse(rank: Int, address: String)
    /// This rank cannot listen on its hostfile address (not an address of this machine, or refused).
    case cannotListen(rank: Int, address: String, reason: String)
    /// Rank `rank` of `worldSize` could not join its ring (a neighbour that never listened, an unreachable address).
    case joinFailed(rank: Int, worldSize: Int, message: String)
    /// The generated hostfile could not be written.
    case cannotWriteHostfile(path: String, reason: String)

    // Ranks going away

    /// A rank the launcher started exited with `status` (or was killed by signal `status` when `signaled`).
    case rankExited(rank: Int, status: Int32, signaled: Bool)
    /// The launcher (rank 0) of this local rank exited.
    case launcherExited(rank: Int)
    /// A collective failed on this rank: a rank it exchanges with has most likely exited.
    case collectiveFailed(rank: Int, worldSize: Int, operation: String, message: String)

    public var description: String {
        switch self {
        case .hostfileUnreadable(let path, let reason):
            "hostfile \(path): cannot be read: \(reason)"
        case .hostfileMalformed(let path, let expected, let found):
            "hostfile \(path): expected \(expected), found \(found)"
        case .hostfileAddress(let path, let rank, let address):
            "hostfile \(path): rank \(rank)'s address '\(address)' is not IPv4:port (e.g. 192.168.1.2:32323)"
        case .hostfileRankCount(let path, let ranks, let processes):
            "hostfile \(path) lists \(ranks) ranks but --processes is \(processes)"
        case .rankNotGiven(let path):
            "hostfile \(path): set MLX_RANK to this process's rank (mlx.launch sets it on every host)"
        case .invalidRank(let variable, let value, let worldSize):
            "\(variable) must be a rank in 0..<\(worldSize), got \(value.map { "'\($0)'" } ?? "none")"
        case .invalidMasterPort(let value):
            "torchrun's WORLD_SIZE > 1 needs MASTER_PORT, a TCP port; got \(value.map { "'\($0)'" } ?? "none")"
        case .invalidMasterAddress(let host):
            "MASTER_ADDR '\(host)' is not an IPv4 address (e.g. 127.0.0.1)"
        case .torchrunAcrossMachines(let worldSize, let localWorldSize):
            """
            torchrun's WORLD_SIZE=\(worldSize) spans machines (LOCAL_WORLD_SIZE=\(localWorldSize)): give every \
            rank's address in a --hostfile (mlx.launch's JSON) and MLX_RANK instead
            """
        case .processesNeedRing(let backend):
            """
            --processes starts local ranks with the ring backend, not \(backend.rawValue) (start those with its own \
            launcher)
            """
        case .backend(let error):
            "\(error)"
        case .addressInUse(let rank, let address):
            "rank \(rank)'s address \(address) is in use (another run or program listens there; pick another port)"
        case .cannotListen(let rank, let address, let reason):
            "rank \(rank) cannot listen on \(address): \(reason) (is it an address of this machine?)"
        case .joinFailed(let rank, let worldSize, let message):
            """
            rank \(rank) of \(worldSize) could not join the ring (\(message)): \
            \(Self.neighbours(of: rank, worldSize: worldSize)) did not answer; is it running and reachable?
            """
        case .cannotWriteHostfile(let path, let reason):
            "cannot write the ranks' hostfile \(path): \(reason)"
        case .rankExited(let rank, let status, let signaled):
            signaled
                ? "rank \(rank) was killed by signal \(status); stopping the other ranks"
                : "rank \(rank) exited with status \(status) (its error is above); stopping the other ranks"
        case .launcherExited(let rank):
            "rank \(rank): the launcher (rank 0) exited; stopping"
        case .collectiveFailed(let rank, let worldSize, let operation, let message):
            "rank \(rank): \(operation) failed (\(message)); \(Self.neighbours(of: rank, worldSize: worldSize)) "
                + "has most likely exited (see its error above)"
        }
    }

    /// The ranks a ring member exchanges with.
    private static func neighbours(of rank: Int, worldSize: Int) -> String {
        guard worldSize > 2 else { return "rank \(1 - rank)" }
        return "rank \((rank + worldSize - 1) % worldSize) or \((rank + 1) % worldSize)"
    }
}
