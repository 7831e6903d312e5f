import Foundation

/// The processes a training run spans, as `torchrun` describes them (`RANK`, `WORLD_SIZE`, `LOCAL_RANK`). The trainer
/// derives per-rank seeds from it, gathers rewards through it for statistics, and lets only rank 0 write logs and
/// checkpoints, so nothing in training assumes a single process.
public protocol ProcessGroup: AnyObject, Sendable {
    var rank: Int { get }
    var worldSize: Int { get }
    /// Every rank's `values`, concatenated in rank order (the same on every rank).
    func allGather(_ values: [Double]) throws -> [Double]
    /// Element-wise sum over ranks of equally long arrays (gradient averaging divides by `worldSize`).
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
    public var description: String { message }
}

/// The group described by the environment: `WORLD_SIZE` unset or 1 is a single process; more processes need a
/// communication back end, which this build does not have yet, so they are refused rather than run as unsynchronised
/// copies.
public func processGroupFromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ProcessGroup {
    let worldSize = Int(environment["WORLD_SIZE"] ?? "1") ?? 1
    let rank = Int(environment["RANK"] ?? "0") ?? 0
    guard worldSize > 1 else { return SingleProcessGroup() }
    throw ProcessGroupError(message: "WORLD_SIZE=\(worldSize) (RANK=\(rank)): multi-process training needs a collective back end that this build does not include yet; run one process (unset WORLD_SIZE)")
}

/// A per-rank seed: rank 0 keeps the run's seed, so one-process runs are unchanged by the scheme.
public func rankSeed(_ seed: UInt64, rank: Int) -> UInt64 {
    seed &+ UInt64(rank) &* 0x9E37_79B9_7F4A_7C15
}
