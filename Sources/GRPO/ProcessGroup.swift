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

/// A process group that cannot form or breaks. `peer` strings name the other side as the messages do ("rank 0",
/// "rank 2", "a connecting rank"); `operation` strings name a wire frame (`hello`, `allGather`, `allReduceSum`).
public enum ProcessGroupError: Error, CustomStringConvertible, Equatable {
    // Environment (torchrun's variables)

    /// `WORLD_SIZE` > 1 but `RANK` is missing, not an integer or outside `0..<worldSize`; `rank` is its raw value.
    case invalidRank(worldSize: Int, rank: String?)
    /// `WORLD_SIZE` > 1 but `MASTER_PORT` is missing or not an integer.
    case missingMasterPort(worldSize: Int, rank: Int)
    /// `MASTER_PORT` is outside 0...65535.
    case invalidMasterPort(Int)
    /// `MASTER_ADDR` is not a dotted IPv4 address (or `localhost`).
    case invalidMasterAddress(String)

    // Sockets and connecting

    /// The operating system refused a TCP socket; `reason` is `strerror`'s text.
    case cannotCreateSocket(reason: String)
    /// Rank 0 could not bind or listen on `host:port`.
    case cannotListen(host: String, port: Int, reason: String)
    /// Rank 0's `timeout` ran out before the `missingRanks` connected.
    case ranksNeverConnected(missingRanks: [Int], port: Int, waitedSeconds: Int)
    /// Rank `rank` > 0 could not connect to rank 0 within its timeout; `reason` is the last connect error.
    case connectionFailed(rank: Int, host: String, port: Int, waitedSeconds: Int, reason: String)
    /// Rank 0's launcher saw local rank `rank` exit (with `status`) before it connected.
    case rankExitedBeforeJoining(rank: Int, status: Int32)
    /// A local rank started by the launcher exited with a non-zero `status` after the run.
    case rankFailed(rank: Int, status: Int32)

    // Handshake and wire protocol

    /// Something connected to rank 0 on `port` whose first frame was `operation` rather than a rank's hello.
    case notARank(port: Int, operation: String)
    /// A process connected to rank 0 as rank `peerRank` of `peerWorldSize`, which is another world size, out of
    /// range or already taken.
    case unexpectedRank(worldSize: Int, peerRank: Int, peerWorldSize: Int)
    /// Rank 0 answered rank `rank`'s hello with another frame.
    case handshakeRejected(rank: Int, host: String, port: Int, operation: String)
    /// The ranks entered different collectives: this rank (`rank`) is in `local`, rank `peer` sent `sent`.
    case operationMismatch(rank: Int, local: String, peer: Int, sent: String)
    /// The ranks sent allReduceSum parts of different lengths (`counts`, in rank order).
    case unequalLengths(counts: [Int])
    /// A frame's operation code is not one this build knows.
    case unknownFrame(peer: String, code: UInt32)
    /// A frame announces more than 2^32 values.
    case oversizedFrame(peer: String, count: UInt64, operation: String)

    // A rank going away

    /// Sending `operation` to `peer` failed; it has most likely exited.
    case sendFailed(peer: String, operation: String, reason: String)
    /// `peer` closed its connection (it has most likely exited).
    case connectionClosed(peer: String)
    /// Receiving from `peer` failed with a system error.
    case receiveFailed(peer: String, reason: String)

    public var description: String {
        switch self {
        case .invalidRank(let worldSize, let rank):
            "WORLD_SIZE=\(worldSize) needs RANK in 0..<\(worldSize), got \(rank.map { "'\($0)'" } ?? "none")"
        case .missingMasterPort(let worldSize, let rank):
            """
            WORLD_SIZE=\(worldSize) (RANK=\(rank)) needs MASTER_PORT, the TCP port rank 0 listens on (and \
            MASTER_ADDR, default 127.0.0.1); `dancegrpo train --processes N` sets them for one machine
            """
        case .invalidMasterPort(let port):
            "MASTER_PORT \(port) is not a TCP port"
        case .invalidMasterAddress(let host):
            "MASTER_ADDR '\(host)' is not an IPv4 address (e.g. 127.0.0.1)"
        case .cannotCreateSocket(let reason):
            "cannot create a TCP socket: \(reason)"
        case .cannotListen(let host, let port, let reason):
            "rank 0 cannot listen on \(host):\(port): \(reason)"
        case .ranksNeverConnected(let missingRanks, let port, let waitedSeconds):
            """
            rank 0 waited \(waitedSeconds) s on port \(port) and rank(s) \
            \(missingRanks.map(String.init).joined(separator: ", ")) never connected
            """
        case .connectionFailed(let rank, let host, let port, let waitedSeconds, let reason):
            "rank \(rank) could not reach rank 0 at \(host):\(port) within \(waitedSeconds) s: \(reason)"
        case .rankExitedBeforeJoining(let rank, let status):
            "rank \(rank) exited with status \(status) before it joined the run (its error is above)"
        case .rankFailed(let rank, let status):
            "rank \(rank) exited with status \(status) (its error is above)"
        case .notARank(let port, let operation):
            "rank 0: a process on port \(port) did not introduce itself as a rank (got \(operation))"
        case .unexpectedRank(let worldSize, let peerRank, let peerWorldSize):
            """
            rank 0 (WORLD_SIZE=\(worldSize)): a process connected as rank \(peerRank) of \
            WORLD_SIZE=\(peerWorldSize), which is \
            \(peerWorldSize != worldSize ? "another world size" : "not a free rank")
            """
        case .handshakeRejected(let rank, let host, let port, let operation):
            "rank \(rank): rank 0 at \(host):\(port) answered the handshake with \(operation)"
        case .operationMismatch(let rank, let local, let peer, let sent):
            "rank \(rank) is in \(local) but rank \(peer) sent \(sent): the ranks ran different code paths"
        case .unequalLengths(let counts):
            """
            allReduceSum: the ranks sent \(counts) values (rank order); every rank must send \
            as many
            """
        case .unknownFrame(let peer, let code):
            """
            \(peer) sent a frame this build does not know (0x\(String(code, radix: 16))): is it another \
            program or version?
            """
        case .oversizedFrame(let peer, let count, let operation):
            "\(peer) announced \(count) values in one \(operation) frame"
        case .sendFailed(let peer, let operation, let reason):
            """
            the connection to \(peer) broke while sending \(operation) (\(reason)); has it \
            exited? See its error above
            """
        case .connectionClosed(let peer):
            "\(peer) closed its connection (it has probably exited; see its error above)"
        case .receiveFailed(let peer, let reason):
            "receiving from \(peer) failed: \(reason)"
        }
    }
}

/// The group described by the environment, as torchrun sets it: `WORLD_SIZE` unset or 1 is a single process; more
/// processes form a ``SocketProcessGroup`` at `MASTER_ADDR:MASTER_PORT` (rank 0 listens there, the others connect).
public func processGroupFromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws
    -> ProcessGroup
{
    let worldSize = Int(environment["WORLD_SIZE"] ?? "1") ?? 1
    guard worldSize > 1 else { return SingleProcessGroup() }
    guard let rankText = environment["RANK"], let rank = Int(rankText), (0..<worldSize).contains(rank) else {
        throw ProcessGroupError.invalidRank(worldSize: worldSize, rank: environment["RANK"])
    }
    guard let portText = environment["MASTER_PORT"], let port = Int(portText) else {
        throw ProcessGroupError.missingMasterPort(worldSize: worldSize, rank: rank)
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
