import Engine
import Foundation
import GRPO
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Process groups over MLX's distributed module: two real ranks exchanging tensors, a rank that dies, and the
/// environment and hostfiles a group is planned from.
final class ProcessGroupTests: XCTestCase {
    func testOneProcessWithoutLauncherVariables() throws {
        for environment in [[:], ["WORLD_SIZE": "1"]] {
            let plan = try RankPlan.resolve(processes: 1, hostfile: nil, backend: nil, environment: environment)
            XCTAssertEqual(plan.role, .single)
            let group = try plan.form()
            XCTAssertEqual(group.rank, 0)
            XCTAssertEqual(group.worldSize, 1)
            XCTAssertEqual(try group.allGather([1, 2]), [1, 2])
            XCTAssertEqual(try group.allSum(Tensor([3] as [Float])).toArray(Float.self), [3])
        }
    }

    /// Rank r of two sums [r + 0.5, 1, −r], gathers [[r, 10r]], gathers 1 + 2r doubles (different counts) and an
    /// empty list, and rank 0 sends rank 1 a tensor.
    func testRankWorkerCollectives() throws {
        guard RankProcesses.isWorker else { return }
        let group = try RankProcesses.formGroup()
        let r = Float(group.rank)
        let sum = try group.allSum(Tensor([r + 0.5, 1, -r])).toArray(Double.self)
        let gathered = try group.allGather(Tensor([r, 10 * r], shape: [1, 2])).toArray(Double.self)
        let doubles = try group.allGather((0...(2 * group.rank)).map { Double(group.rank) + Double($0) / 4 })
        let empty = try group.allGather([Double]())
        var received: [Double] = []
        if let distributed = group as? DistributedProcessGroup {
            if group.rank == 0 {
                eval(distributed.group.send(Tensor([7, 8] as [Float]), to: 1))
            } else {
                received = distributed.group.receive(shape: [2], dtype: .float32, from: 0).toArray(Double.self)
            }
        }
        try RankProcesses.report([
            "worldSize": [Double(group.worldSize)], "sum": sum, "gathered": gathered, "doubles": doubles,
            "empty": empty, "received": received
        ])
    }

    func testTwoRanksSumAndGatherTensors() throws {
        guard !RankProcesses.isWorker else { return }
        let ranks = try RankProcesses.start("ProcessGroupTests/testRankWorkerCollectives", for: self)
        XCTAssertTrue(RankProcesses.wait(ranks, seconds: 60), ranks.map(\.output).joined())
        for rank in ranks {
            XCTAssertEqual(rank.process.terminationStatus, 0, rank.output)
            let results = try RankProcesses.results(rank)
            XCTAssertEqual(results["worldSize"], [2])
            XCTAssertEqual(results["sum"], [2, 2, -1])
            XCTAssertEqual(results["gathered"], [0, 0, 1, 10])
            XCTAssertEqual(results["doubles"], [0, 1, 1.25, 1.5])
            XCTAssertEqual(results["empty"], [])
            XCTAssertEqual(results["received"], rank.rank == 1 ? [7, 8] : [])
        }
    }

    /// Sums in a loop until its peer goes away; its error is its output.
    func testRankWorkerLoops() throws {
        guard RankProcesses.isWorker else { return }
        let group = try RankProcesses.formGroup()
        FileHandle.standardOutput.write(Data("ready\n".utf8))
        let deadline = Date().addingTimeInterval(60)
        do {
            while Date() < deadline {
                _ = try group.allSum(Tensor([Float(group.rank)]))
                usleep(20_000)
            }
        } catch {
            FileHandle.standardOutput.write(Data("error: \(error)\n".utf8))
            exit(3)
        }
    }

    func testAKilledRankStopsTheOtherWithAMessageNamingIt() throws {
        guard !RankProcesses.isWorker else { return }
        let ranks = try RankProcesses.start("ProcessGroupTests/testRankWorkerLoops", for: self)
        let formed = Date().addingTimeInterval(60)
        while !ranks.allSatisfy({ $0.output.contains("ready") }) && Date() < formed { usleep(50_000) }
        XCTAssertTrue(ranks.allSatisfy { $0.output.contains("ready") }, ranks.map(\.output).joined())
        kill(ranks[1].process.processIdentifier, SIGKILL)
        let killed = Date()
        XCTAssertTrue(RankProcesses.wait([ranks[0]], seconds: 10), "rank 0 still waits: \(ranks[0].output)")
        XCTAssertLessThan(Date().timeIntervalSince(killed), 10)
        XCTAssertEqual(ranks[0].process.terminationStatus, 3, ranks[0].output)
        XCTAssertTrue(
            ranks[0].output.contains("rank 0: allSum failed")
                && ranks[0].output.contains("rank 1 has most likely exited"), ranks[0].output)
        _ = RankProcesses.wait(ranks, seconds: 5)
    }

    // MARK: - Plans and bad input

    private func file(_ text: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("hostfile-\(UUID().uuidString).json")
        try text.write(to: url, atomically: true, encoding: .utf8)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    func testHostfilesInMLXLaunchAndRingLayouts() throws {
        let launch = try file(
            """
            {"backend": "ring", "envs": ["MLX_X=1"], "hosts": [{"ssh": "a", "ips": ["10.0.0.1"]},
             {"ssh": "b", "ips": ["10.0.0.2", "10.0.1.2"]}]}
            """)
        XCTAssertEqual(
            try RingHostfile.read(launch),
            RingHostfile(
                ranks: [["10.0.0.1:32323"], ["10.0.0.2:32324", "10.0.1.2:32325"]], backend: "ring",
                environment: ["MLX_X=1"]))
        let list = try file(#"[{"ssh": "a", "ips": ["10.0.0.1"]}, {"ssh": "b", "ips": ["10.0.0.2"]}]"#)
        XCTAssertEqual(try RingHostfile.read(list).ranks, [["10.0.0.1:32323"], ["10.0.0.2:32324"]])
        let ring = try file(#"[["127.0.0.1:5000"], ["127.0.0.1:5001"]]"#)
        XCTAssertEqual(try RingHostfile.read(ring).ranks, [["127.0.0.1:5000"], ["127.0.0.1:5001"]])
    }

    func testBadHostfilesAreRefusedWithWhatIsWrong() throws {
        let cases: [(String, String)] = [
            ("{not json", "expected JSON (mlx.launch's hostfile), found text that does not parse"),
            (#"{"backend": "ring"}"#, "found an object without them"),
            (#"[{"ssh": "a"}]"#, "expected host 0 with a non-empty \"ips\" list"),
            (#"[["127.0.0.1:5000"], ["nowhere:5001"]]"#, "rank 1's address 'nowhere:5001' is not IPv4:port")
        ]
        for (text, message) in cases {
            let url = try file(text)
            XCTAssertThrowsError(try RankPlan.resolve(processes: 2, hostfile: url.path, backend: nil, environment: [:]))
            { error in
                XCTAssertTrue("\(error)".hasPrefix("hostfile \(url.path): "), "\(error)")
                XCTAssertTrue("\(error)".contains(message), "\(error)")
            }
        }
        XCTAssertThrowsError(try RankPlan.resolve(processes: 2, hostfile: "/nonexistent/h.json", backend: nil)) {
            XCTAssertTrue("\($0)".hasPrefix("hostfile /nonexistent/h.json: cannot be read"), "\($0)")
        }
        let three = try file(#"[["127.0.0.1:5000"], ["127.0.0.1:5001"], ["127.0.0.1:5002"]]"#)
        XCTAssertThrowsError(try RankPlan.resolve(processes: 2, hostfile: three.path, backend: nil, environment: [:])) {
            XCTAssertEqual($0 as? ProcessGroupError, .hostfileRankCount(path: three.path, ranks: 3, processes: 2))
        }
        XCTAssertThrowsError(try RankPlan.resolve(processes: 1, hostfile: three.path, backend: nil, environment: [:])) {
            XCTAssertEqual($0 as? ProcessGroupError, .rankNotGiven(path: three.path))
        }
    }

    func testAnUnavailableBackendIsRefused() throws {
        XCTAssertFalse(DistributedGroup.isAvailable(.nccl), "this test needs a build without NCCL (the CPU back end)")
        XCTAssertTrue(DistributedGroup.isAvailable(.ring))
        XCTAssertThrowsError(try RankPlan.resolve(processes: 2, hostfile: nil, backend: .nccl, environment: [:])) {
            XCTAssertTrue(
                "\($0)".hasPrefix("the nccl backend is not available in this build (available: ring"), "\($0)")
        }
        XCTAssertThrowsError(try RankPlan.resolve(processes: 2, hostfile: nil, backend: .mpi, environment: [:])) {
            let error = $0 as? ProcessGroupError
            XCTAssertTrue(
                error == .processesNeedRing(backend: .mpi)
                    || "\($0)".hasPrefix("the mpi backend is not available in this build"), "\($0)")
        }
    }

    func testAnAddressInUseIsRefusedBeforeTheRingForms() throws {
        // Another program listening on rank 1's port.
        let free = try RingHostfile.loopback(count: 2).ranks
        let taken = free[1][0]
        let port = Int(taken.split(separator: ":")[1])!
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        XCTAssertEqual(bound, 0)
        XCTAssertEqual(listen(fd, 1), 0)
        let hostfile = try file(#"[["\#(free[0][0])"], ["\#(taken)"]]"#)
        XCTAssertThrowsError(
            try RankPlan.resolve(processes: 2, hostfile: hostfile.path, backend: nil, environment: [:])
        ) {
            XCTAssertEqual($0 as? ProcessGroupError, .addressInUse(rank: 1, address: taken))
            XCTAssertTrue("\($0)".hasPrefix("rank 1's address \(taken) is in use"), "\($0)")
        }
        XCTAssertThrowsError(
            try RankPlan.resolve(
                processes: 1, hostfile: hostfile.path, backend: nil, environment: ["MLX_RANK": "1"])
        ) { XCTAssertEqual($0 as? ProcessGroupError, .addressInUse(rank: 1, address: taken)) }
    }

    func testLauncherVariablesAreChecked() {
        let cases: [([String: String], ProcessGroupError)] = [
            (["MLX_RANK": "x"], .invalidRank(variable: "MLX_RANK", value: "x", worldSize: Int.max)),
            (["WORLD_SIZE": "4", "RANK": "7"], .invalidRank(variable: "RANK", value: "7", worldSize: 4)),
            (["WORLD_SIZE": "2", "RANK": "1"], .invalidMasterPort(nil)),
            (["WORLD_SIZE": "2", "RANK": "1", "MASTER_PORT": "80000"], .invalidMasterPort("80000")),
            (
                ["WORLD_SIZE": "2", "RANK": "1", "MASTER_PORT": "29500", "MASTER_ADDR": "example.org"],
                .invalidMasterAddress("example.org")
            ),
            (
                ["WORLD_SIZE": "4", "RANK": "1", "MASTER_PORT": "29500", "LOCAL_WORLD_SIZE": "2"],
                .torchrunAcrossMachines(worldSize: 4, localWorldSize: 2)
            )
        ]
        for (environment, expected) in cases {
            XCTAssertThrowsError(
                try RankPlan.resolve(processes: 1, hostfile: nil, backend: nil, environment: environment)
            ) { XCTAssertEqual($0 as? ProcessGroupError, expected, "\(environment)") }
        }
    }

    func testTorchrunVariablesOnOneMachinePlanARing() throws {
        let plan = try RankPlan.resolve(
            processes: 1, hostfile: nil, backend: nil,
            environment: ["WORLD_SIZE": "2", "RANK": "1", "MASTER_PORT": "29517", "MASTER_ADDR": "localhost"])
        XCTAssertEqual(plan.role, .member(rank: 1))
        XCTAssertEqual(plan.backend, .ring)
        XCTAssertEqual(plan.hostfile?.ranks, [["127.0.0.1:29517"], ["127.0.0.1:29518"]])
    }
}
