import Foundation
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A process group over TCP, for data-parallel training on one machine or several: rank 0 listens at
/// `MASTER_ADDR:MASTER_PORT` (torchrun's names), every other rank connects to it, and each collective is a star: the
/// ranks send their part to rank 0, which combines the parts in rank order and sends the result back. The combination
/// order is fixed, so a run is as deterministic as its ranks are. A group of GRPO processes exchanges a few rewards and
/// one gradient (a few MB for the embedded model) per iteration, so the root's bandwidth is never the limit.
///
/// Every rank must call the same collectives in the same order; a rank that calls another one, or that exits, makes
/// the others fail with a message that names it rather than hang.
public final class SocketProcessGroup: ProcessGroup, @unchecked Sendable {
    public let rank: Int
    public let worldSize: Int
    /// Rank 0: the connection to each rank 1…W−1 (index r−1). Others: one connection, to rank 0.
    private let peers: [Int32]

    private enum Operation: UInt32, CustomStringConvertible {
        case hello = 0x4447_0001, allGather = 0x4447_0002, allReduceSum = 0x4447_0003
        var description: String {
            switch self {
            case .hello: return "the connection handshake"
            case .allGather: return "allGather"
            case .allReduceSum: return "allReduceSum"
            }
        }
    }

    private init(rank: Int, worldSize: Int, peers: [Int32]) {
        self.rank = rank
        self.worldSize = worldSize
        self.peers = peers
    }

    deinit { peers.forEach { _ = close($0) } }

    // MARK: - Rendezvous

    /// Rank 0's listening socket, bound before the other ranks start so that they can be told its port.
    public final class Listener: @unchecked Sendable {
        public let port: Int
        fileprivate let socket: Int32
        fileprivate init(port: Int, socket: Int32) { self.port = port; self.socket = socket }
        deinit { _ = close(socket) }
    }

    /// Binds rank 0's socket on `host:port` (port 0: a free port the system picks; `Listener.port` tells which).
    public static func makeListener(host: String = "127.0.0.1", port: Int = 0) throws -> Listener {
        let fd = try makeSocket()
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = try socketAddress(host: host, port: port)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            let reason = systemError()
            _ = close(fd)
            throw ProcessGroupError.cannotListen(host: host, port: port, reason: reason)
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Listener(port: Int(UInt16(bigEndian: actual.sin_port)), socket: fd)
    }

    /// Rank 0: waits for ranks 1…W−1 to connect and say who they are. `whileWaiting` runs about once a second and
    /// may throw to give up (a launcher uses it to notice a rank that exited before connecting).
    public static func accepting(
        worldSize: Int, listener: Listener, timeout: TimeInterval = 300,
        whileWaiting: () throws -> Void = {}
    ) throws -> SocketProcessGroup {
        precondition(worldSize >= 2, "a socket group needs at least two ranks")
        var connections = [Int32?](repeating: nil, count: worldSize - 1)
        let deadline = Date().addingTimeInterval(timeout)
        do {
            while connections.contains(where: { $0 == nil }) {
                try whileWaiting()
                guard Date() < deadline else {
                    let missing = connections.indices.filter { connections[$0] == nil }.map { $0 + 1 }
                    throw ProcessGroupError.ranksNeverConnected(
                        missingRanks: missing, port: listener.port, waitedSeconds: Int(timeout))
                }
                var pending = pollfd(fd: listener.socket, events: Int16(POLLIN), revents: 0)
                guard poll(&pending, 1, 1000) > 0 else { continue }
                let fd = accept(listener.socket, nil, nil)
                guard fd >= 0 else { continue }
                setNoDelay(fd)
                let (operation, values) = try receiveFrame(fd, from: "a connecting rank")
                guard operation == .hello, values.count == 2 else {
                    _ = close(fd)
                    throw ProcessGroupError.notARank(port: listener.port, operation: "\(operation)")
                }
                let peerRank = Int(values[0]), peerWorld = Int(values[1])
                guard peerWorld == worldSize, (1..<worldSize).contains(peerRank), connections[peerRank - 1] == nil
                else {
                    _ = close(fd)
                    throw ProcessGroupError.unexpectedRank(
                        worldSize: worldSize, peerRank: peerRank, peerWorldSize: peerWorld)
                }
                connections[peerRank - 1] = fd
            }
        } catch {
            connections.compactMap { $0 }.forEach { _ = close($0) }
            throw error
        }
        let peers = connections.map { $0! }
        for fd in peers { try sendFrame(fd, .hello, [0, Double(worldSize)], to: "a connected rank") }
        return SocketProcessGroup(rank: 0, worldSize: worldSize, peers: peers)
    }

    /// Rank r > 0: connects to rank 0 at `host:port`, retrying until `timeout` (rank 0 may start later).
    public static func joining(rank: Int, worldSize: Int, host: String, port: Int, timeout: TimeInterval = 300) throws
        -> SocketProcessGroup
    {
        precondition(rank >= 1 && rank < worldSize, "rank \(rank) outside 1..<\(worldSize)")
        let deadline = Date().addingTimeInterval(timeout)
        var address = try socketAddress(host: host, port: port)
        while true {
            let fd = try makeSocket()
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            if connected == 0 {
                setNoDelay(fd)
                try sendFrame(fd, .hello, [Double(rank), Double(worldSize)], to: "rank 0")
                let (operation, _) = try receiveFrame(fd, from: "rank 0")
                guard operation == .hello else {
                    throw ProcessGroupError.handshakeRejected(
                        rank: rank, host: host, port: port, operation: "\(operation)")
                }
                return SocketProcessGroup(rank: rank, worldSize: worldSize, peers: [fd])
            }
            let reason = systemError()
            _ = close(fd)
            guard Date() < deadline else {
                throw ProcessGroupError.connectionFailed(
                    rank: rank, host: host, port: port, waitedSeconds: Int(timeout), reason: reason)
            }
            usleep(100_000)
        }
    }

    // MARK: - Collectives

    public func allGather(_ values: [Double]) throws -> [Double] {
        try collective(.allGather, values) { parts in parts.flatMap { $0 } }
    }

    public func allReduceSum(_ values: [Float]) throws -> [Float] {
        // Doubles on the wire keep the sum exact enough and the frame format single; the sum runs in rank order.
        let summed = try collective(.allReduceSum, values.map(Double.init)) { parts in
            guard let count = parts.first?.count, parts.allSatisfy({ $0.count == count }) else {
                throw ProcessGroupError.unequalLengths(counts: parts.map(\.count))
            }
            var sum = [Float](repeating: 0, count: count)
            for part in parts { for i in 0..<count { sum[i] += Float(part[i]) } }
            return sum.map(Double.init)
        }
        return summed.map(Float.init)
    }

    /// Sends this rank's part to rank 0 and receives the combination; rank 0 receives every part, combines them in
    /// rank order and sends the result to every rank.
    private func collective(_ operation: Operation, _ values: [Double], combine: ([[Double]]) throws -> [Double]) throws
        -> [Double]
    {
        if rank != 0 {
            try Self.sendFrame(peers[0], operation, values, to: "rank 0")
            let (answer, result) = try Self.receiveFrame(peers[0], from: "rank 0")
            guard answer == operation else { throw mismatch(local: operation, peer: 0, sent: answer) }
            return result
        }
        var parts = [values]
        for (index, fd) in peers.enumerated() {
            let (sent, part) = try Self.receiveFrame(fd, from: "rank \(index + 1)")
            guard sent == operation else { throw mismatch(local: operation, peer: index + 1, sent: sent) }
            parts.append(part)
        }
        let result = try combine(parts)
        for (index, fd) in peers.enumerated() { try Self.sendFrame(fd, operation, result, to: "rank \(index + 1)") }
        return result
    }

    private func mismatch(local: Operation, peer: Int, sent: Operation) -> ProcessGroupError {
        .operationMismatch(rank: rank, local: "\(local)", peer: peer, sent: "\(sent)")
    }

    // MARK: - Frames: operation (UInt32), count (UInt64), count little-endian doubles

    private static func sendFrame(_ fd: Int32, _ operation: Operation, _ values: [Double], to peer: String) throws {
        var frame = [UInt8]()
        frame.reserveCapacity(12 + 8 * values.count)
        withUnsafeBytes(of: operation.rawValue.littleEndian) { frame.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt64(values.count).littleEndian) { frame.append(contentsOf: $0) }
        values.withUnsafeBytes { frame.append(contentsOf: $0) }
        try frame.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let sent = send(fd, buffer.baseAddress! + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
                if sent < 0 && errno == EINTR { continue }
                guard sent > 0 else {
                    throw ProcessGroupError.sendFailed(peer: peer, operation: "\(operation)", reason: systemError())
                }
                offset += sent
            }
        }
    }

    private static func receiveFrame(_ fd: Int32, from peer: String) throws -> (Operation, [Double]) {
        var header = [UInt8](repeating: 0, count: 12)
        try receive(fd, into: &header, from: peer)
        let code = header.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 0, as: UInt32.self)) }
        let count = header.withUnsafeBytes {
            UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 4, as: UInt64.self))
        }
        guard let operation = Operation(rawValue: code) else {
            throw ProcessGroupError.unknownFrame(peer: peer, code: code)
        }
        guard count <= 1 << 32 else {
            throw ProcessGroupError.oversizedFrame(peer: peer, count: count, operation: "\(operation)")
        }
        var payload = [UInt8](repeating: 0, count: Int(count) * 8)
        try receive(fd, into: &payload, from: peer)
        let values = payload.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) }
        return (operation, values)
    }

    private static func receive(_ fd: Int32, into buffer: inout [UInt8], from peer: String) throws {
        var offset = 0
        let total = buffer.count
        try buffer.withUnsafeMutableBytes { raw in
            while offset < total {
                let got = recv(fd, raw.baseAddress! + offset, total - offset, 0)
                if got < 0 && errno == EINTR { continue }
                guard got > 0 else {
                    throw got == 0
                        ? ProcessGroupError.connectionClosed(peer: peer)
                        : ProcessGroupError.receiveFailed(peer: peer, reason: systemError())
                }
                offset += got
            }
        }
    }

    // MARK: - Sockets

    private static func makeSocket() throws -> Int32 {
        #if canImport(Glibc)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw ProcessGroupError.cannotCreateSocket(reason: systemError()) }
        return fd
    }

    /// Collectives are small request/answer exchanges: without TCP_NODELAY each would wait for delayed ACKs.
    private static func setNoDelay(_ fd: Int32) {
        var yes: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &yes, socklen_t(MemoryLayout<Int32>.size))
    }

    private static func socketAddress(host: String, port: Int) throws -> sockaddr_in {
        guard (0...65535).contains(port) else {
            throw ProcessGroupError.invalidMasterPort(port)
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        let name = host == "localhost" ? "127.0.0.1" : host
        guard inet_pton(AF_INET, name, &address.sin_addr) == 1 else {
            throw ProcessGroupError.invalidMasterAddress(host)
        }
        return address
    }

    private static func systemError() -> String { String(cString: strerror(errno)) }
}
