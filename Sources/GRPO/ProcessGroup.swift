import Foundation

/// The processes a training run spans, as `torchrun` describes them (`RANK`, `WORLD_SIZE`, `LOCAL_RANK`). The trainer
/// derives per-rank seeds from it, gathers rewards through it for statistics, and lets only rank 0 write logs and
/// checkpoints, so nothing in training assumes a single process.
public protocol ProcessGroup: AnyObject, Sendable {
    var rank: Int { get }
    var worldSize: Int { get }
    /// Every rank's `values`, concatenated in rank order (the same on every rank).
    func allGather(_ values: [Double]) throws -> [Double]
    /// Element-wise sum over ranks of equally long arrays, the same on every rank (gradient averaging divides by
    /// `worldSize`).
    func allReduceSum(_ values: [Float]) throws -> [Float]
}

extension ProcessGroup {
    /// Rank 0 writes logs, pictures and checkpoints.
    public var isMain: Bool { rank == 0 }
}

/// The one-process group: gathering and reducing return their input.
public final class SingleProcessGroup: ProcessGroup {
    public init() {}
    public var rank: Int { 0 }
    public var worldSize: Int { 1 }
    public func allGather(_ values: [Double]) throws -> [Double] { values }
    public func allReduceSum(_ values: [Float]) throws -> [Float] { values }
}

public struct ProcessGroupError: Error, CustomStringConvertible {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// The group described by the environment, as torchrun sets it: `WORLD_SIZE` unset or 1 is a single process; more
/// processes form a ``SocketProcessGroup`` at `MASTER_ADDR:MASTER_PORT` (rank 0 listens there, the others connect).
public func processGroupFromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws
    -> ProcessGroup
{
    let worldSize = Int(environment["WORLD_SIZE"] ?? "1") ?? 1
    guard worldSize > 1 else { return SingleProcessGroup() }
    guard let rankText = environment["RANK"], let rank = Int(rankText), (0..<worldSize).contains(rank) else {
        throw ProcessGroupError(
            message:
                """
                WORLD_SIZE=\(worldSize) needs RANK in 0..<\(worldSize), got \
                \(environment["RANK"].map { "'\($0)'" } ?? "none")
                """
        )
    }
    guard let portText = environment["MASTER_PORT"], let port = Int(portText) else {
        throw ProcessGroupError(
            message:
                """
                WORLD_SIZE=\(worldSize) (RANK=\(rank)) needs MASTER_PORT, the TCP port rank 0 listens on (and \
                MASTER_ADDR, default 127.0.0.1); `dancegrpo train --processes N` sets them for one machine
                """
        )
    }
    let host = environment["MASTER_ADDR"] ?? "127.0.0.1"
    if rank == 0 {
        return try SocketProcessGroup.accepting(
            worldSize: worldSize, listener: try SocketProcessGroup.makeListener(host: host, port: port))
    }
    return try SocketProcessGroup.joining(rank: rank, worldSize: worldSize, host: host, port: port)
}

/// A per-rank seed: rank 0 keeps the run's seed, so one-process runs are unchanged by the scheme.
public func rankSeed(_ seed: UInt64, rank: Int) -> UInt64 {
    seed &+ UInt64(rank) &* 0x9E37_79B9_7F4A_7C15
}
