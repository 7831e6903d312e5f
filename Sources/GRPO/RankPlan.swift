import Engine
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How this process joins a run, decided (and checked: hostfile, backend, addresses) before any work starts:
/// alone; as the launcher of `--processes N` local ranks (rank 0 of a ring on loopback); or as one rank of a run that
/// another launcher started (mlx.launch's `MLX_RANK` and `MLX_HOSTFILE`, `mpirun`, torchrun's variables on one
/// machine, or a `--hostfile` with `MLX_RANK`).
public struct RankPlan: Sendable {
    public enum Role: Equatable, Sendable {
        case single
        /// This process starts ranks 1…count−1 and is rank 0.
        case launcher(count: Int)
        /// This process is rank `rank` (nil: the backend's launcher knows it, as `mpirun` does).
        case member(rank: Int?)
    }

    public var role: Role
    public var backend: DistributedBackend
    /// The ring's addresses when this process knows them (nil: the environment's `MLX_HOSTFILE`, or another backend).
    public var hostfile: RingHostfile?

    /// The plan for `--processes`, `--hostfile` and `--backend` (nil: the hostfile's, else any) in `environment`.
    public static func resolve(
        processes: Int, hostfile path: String?, backend requested: DistributedBackend?,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> RankPlan {
        var hostfile = try path.map { try RingHostfile.read(URL(fileURLWithPath: $0)) }
        var backend = requested ?? hostfile?.backend.flatMap(DistributedBackend.init(rawValue:)) ?? .any
        if backend != .any && !DistributedGroup.isAvailable(backend) {
            throw ProcessGroupError.backend(
                .unavailable(backend: backend, available: DistributedGroup.availableBackends))
        }
        let role: Role
        if let rankText = environment["MLX_RANK"] {
            if hostfile == nil, let file = environment["MLX_HOSTFILE"], !file.isEmpty,
                backend == .any || backend == .ring
            {
                hostfile = try RingHostfile.read(URL(fileURLWithPath: file))
            }
            let worldSize = hostfile?.ranks.count ?? Int.max
            guard let rank = Int(rankText), (0..<worldSize).contains(rank) else {
                throw ProcessGroupError.invalidRank(variable: "MLX_RANK", value: rankText, worldSize: worldSize)
            }
            if hostfile == nil && backend == .any { return RankPlan(role: .single, backend: backend) }
            role = .member(rank: rank)
        } else if processes > 1 {
            guard backend == .any || backend == .ring else {
                throw ProcessGroupError.processesNeedRing(backend: backend)
            }
            if let hostfile, hostfile.ranks.count != processes {
                throw ProcessGroupError.hostfileRankCount(
                    path: path ?? "", ranks: hostfile.ranks.count, processes: processes)
            }
            hostfile = try hostfile ?? RingHostfile.loopback(count: processes)
            role = .launcher(count: processes)
        } else if let path, hostfile != nil {
            throw ProcessGroupError.rankNotGiven(path: path)
        } else if let worldSize = Int(environment["WORLD_SIZE"] ?? ""), worldSize > 1 {
            (role, hostfile) = try torchrun(worldSize: worldSize, environment: environment)
        } else if backend != .any {
            role = .member(rank: nil)
        } else {
            role = .single
        }
        if hostfile != nil && backend == .any { backend = .ring }
        let plan = RankPlan(role: role, backend: backend, hostfile: hostfile)
        try plan.checkAddresses()
        return plan
    }

    /// torchrun's variables on one machine: rank r listens on MASTER_ADDR:(MASTER_PORT + r).
    private static func torchrun(worldSize: Int, environment: [String: String]) throws -> (Role, RingHostfile) {
        guard let rankText = environment["RANK"], let rank = Int(rankText), (0..<worldSize).contains(rank) else {
            throw ProcessGroupError.invalidRank(variable: "RANK", value: environment["RANK"], worldSize: worldSize)
        }
        if let local = Int(environment["LOCAL_WORLD_SIZE"] ?? ""), local != worldSize {
            throw ProcessGroupError.torchrunAcrossMachines(worldSize: worldSize, localWorldSize: local)
        }
        guard let portText = environment["MASTER_PORT"], let port = Int(portText),
            (1...(65535 - worldSize)).contains(port)
        else { throw ProcessGroupError.invalidMasterPort(environment["MASTER_PORT"]) }
        let host = environment["MASTER_ADDR"].map { $0 == "localhost" ? "127.0.0.1" : $0 } ?? "127.0.0.1"
        guard RingHostfile.parseAddress("\(host):\(port)") != nil else {
            throw ProcessGroupError.invalidMasterAddress(environment["MASTER_ADDR"] ?? host)
        }
        return (.member(rank: rank), RingHostfile(ranks: (0..<worldSize).map { ["\(host):\(port + $0)"] }))
    }

    /// The addresses this process will listen on are free: the launcher's for every rank it starts (all on this
    /// machine), a member's for itself.
    private func checkAddresses() throws {
        guard let hostfile else { return }
        switch role {
        case .launcher(let count): for rank in 0..<count { try hostfile.checkListenable(rank: rank) }
        case .member(let rank?): try hostfile.checkListenable(rank: rank)
        default: break
        }
    }

    /// Forms this process's group as rank `rank` (a launcher: 0), writing the ring's addresses to `hostfileURL` when
    /// the environment does not already name them. Blocks until the ring's neighbours connect.
    public func form(rank: Int? = nil, hostfileURL: URL? = nil) throws -> ProcessGroup {
        if role == .single { return SingleProcessGroup() }
        for setting in hostfile?.environment ?? [] {
            let parts = setting.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { setenv(parts[0], parts[1], 0) }
        }
        if let hostfile, let hostfileURL {
            try hostfile.write(to: hostfileURL)
            setenv("MLX_HOSTFILE", hostfileURL.path, 1)
        }
        let ownRank: Int? =
            switch role {
            case .launcher: 0
            case .member(let rank): rank
            case .single: nil
            }
        if let ownRank = rank ?? ownRank { setenv("MLX_RANK", String(ownRank), 1) }
        do {
            return DistributedProcessGroup(try DistributedGroup(backend: backend))
        } catch let error as DistributedError {
            if case .initFailed(.ring, let message) = error, let ranks = hostfile?.ranks.count,
                let ownRank = rank ?? ownRank
            {
                throw ProcessGroupError.joinFailed(rank: ownRank, worldSize: ranks, message: message)
            }
            throw ProcessGroupError.backend(error)
        }
    }
}
