import Engine
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The ranks' addresses for MLX's ring backend: rank r listens on each of `ranks[r]` ("ip:port") and connects to
/// rank r+1's. Written as the backend's own file (`MLX_HOSTFILE`: a JSON list of lists of "ip:port").
public struct RingHostfile: Equatable, Sendable {
    public var ranks: [[String]]
    /// The backend and `KEY=VALUE` environment settings an mlx.launch hostfile names (empty for the ring's layout).
    public var backend: String?
    public var environment: [String] = []

    public init(ranks: [[String]], backend: String? = nil, environment: [String] = []) {
        self.ranks = ranks
        self.backend = backend
        self.environment = environment
    }

    /// mlx.launch's first port; it gives each host's IPs consecutive ports from here, as this reader does.
    public static let startingPort = 32323

    /// Reads mlx.launch's hostfile (`{"backend": …, "envs": […], "hosts": [{"ssh": …, "ips": […]}, …]}` or
    /// just the list of hosts; each host is one rank, its IPs get ports from `startingPort` on) or the ring backend's
    /// own layout.
    public static func read(_ url: URL, startingPort: Int = startingPort) throws -> RingHostfile {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            let reason = (error as NSError).localizedDescription
            throw ProcessGroupError.hostfileUnreadable(path: url.path, reason: reason)
        }
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw ProcessGroupError.hostfileMalformed(
                path: url.path, expected: "JSON (mlx.launch's hostfile)", found: "text that does not parse")
        }
        let hostfile = try parse(json, path: url.path, startingPort: startingPort)
        for (rank, addresses) in hostfile.ranks.enumerated() {
            for address in addresses where parseAddress(address) == nil {
                throw ProcessGroupError.hostfileAddress(path: url.path, rank: rank, address: address)
            }
        }
        return hostfile
    }

    private static func parse(_ json: Any, path: String, startingPort: Int) throws -> RingHostfile {
        if let ringLayout = json as? [[String]], !ringLayout.isEmpty {
            return RingHostfile(ranks: ringLayout)
        }
        let object = json as? [String: Any]
        guard let hosts = (object?["hosts"] ?? json) as? [[String: Any]], !hosts.isEmpty else {
            throw ProcessGroupError.hostfileMalformed(
                path: path, expected: "a non-empty list of hosts ({\"ssh\": …, \"ips\": [\"10.0.0.1\"]})",
                found: kind(object?["hosts"] ?? json))
        }
        var port = startingPort
        var ranks: [[String]] = []
        for (rank, host) in hosts.enumerated() {
            guard let ips = host["ips"] as? [String], !ips.isEmpty else {
                throw ProcessGroupError.hostfileMalformed(
                    path: path, expected: "host \(rank) with a non-empty \"ips\" list (the ring needs IPs)",
                    found: kind(host["ips"] as Any))
            }
            ranks.append(
                ips.map { ip in
                    defer { port += 1 }
                    return "\(ip):\(port)"
                })
        }
        return RingHostfile(
            ranks: ranks, backend: object?["backend"] as? String, environment: object?["envs"] as? [String] ?? [])
    }

    private static func kind(_ value: Any) -> String {
        switch value {
        case is [Any]: return "a list without them"
        case is [String: Any]: return "an object without them"
        case is String: return "a string"
        case is NSNumber: return "a number"
        default: return "nothing"
        }
    }

    /// `count` ranks on 127.0.0.1, each on a port the system reports free (held together while picked, so distinct).
    public static func loopback(count: Int) throws -> RingHostfile {
        var sockets: [Int32] = []
        defer { sockets.forEach { _ = close($0) } }
        var ranks: [[String]] = []
        for rank in 0..<count {
            let (fd, port) = try bound(host: "127.0.0.1", port: 0, rank: rank)
            sockets.append(fd)
            ranks.append(["127.0.0.1:\(port)"])
        }
        return RingHostfile(ranks: ranks)
    }

    /// Refuses an address of `rank` that another process listens on or that is not this machine's, before the ring
    /// backend would fail on it (it sets SO_REUSEPORT, so it could even share a port with another ring).
    public func checkListenable(rank: Int) throws {
        for address in ranks[rank] {
            guard let (host, port) = Self.parseAddress(address) else { continue }
            let (fd, _) = try Self.bound(host: host, port: port, rank: rank)
            _ = close(fd)
        }
    }

    /// The backend's own layout, for `MLX_HOSTFILE`.
    public func write(to url: URL) throws {
        do {
            let data = try JSONSerialization.data(withJSONObject: ranks)
            try data.write(to: url)
        } catch {
            throw ProcessGroupError.cannotWriteHostfile(path: url.path, reason: (error as NSError).localizedDescription)
        }
    }

    static func parseAddress(_ address: String) -> (host: String, port: Int)? {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
            (1...65535).contains(port)
        else { return nil }
        let host = String(address[..<colon])
        var ip = in_addr()
        guard inet_pton(AF_INET, host, &ip) == 1 else { return nil }
        return (host, port)
    }

    /// A socket bound to `host:port` (port 0: a free one) and its port.
    private static func bound(host: String, port: Int, rank: Int) throws -> (Int32, Int) {
        let address = "\(host):\(port)"
        #if canImport(Glibc)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else {
            throw ProcessGroupError.cannotListen(rank: rank, address: address, reason: String(cString: strerror(errno)))
        }
        // As the ring's listener: a port left in TIME_WAIT by a previous run is free.
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var socketAddress = sockaddr_in()
        socketAddress.sin_family = sa_family_t(AF_INET)
        socketAddress.sin_port = UInt16(port).bigEndian
        _ = inet_pton(AF_INET, host, &socketAddress.sin_addr)
        let result = withUnsafePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            let code = errno
            _ = close(fd)
            if code == EADDRINUSE { throw ProcessGroupError.addressInUse(rank: rank, address: address) }
            throw ProcessGroupError.cannotListen(rank: rank, address: address, reason: String(cString: strerror(code)))
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (fd, Int(UInt16(bigEndian: actual.sin_port)))
    }
}
