import Foundation
import GRPO
import XCTest

final class ProcessGroupTests: XCTestCase {
    func testSingleProcessFromAnEmptyOrOneProcessEnvironment() throws {
        for environment in [[:], ["WORLD_SIZE": "1", "RANK": "0"]] {
            let group = try processGroupFromEnvironment(environment)
            XCTAssertEqual(group.rank, 0)
            XCTAssertEqual(group.worldSize, 1)
            XCTAssertTrue(group.isMain)
            XCTAssertEqual(try group.allGather([1, 2]), [1, 2])
            XCTAssertEqual(try group.allReduceSum([3]), [3])
        }
    }

    func testSeveralProcessesNeedTheRendezvousAddress() {
        XCTAssertThrowsError(try processGroupFromEnvironment(["WORLD_SIZE": "4", "RANK": "2"])) { error in
            XCTAssertTrue("\(error)".contains("MASTER_PORT"), "\(error)")
        }
        XCTAssertThrowsError(try processGroupFromEnvironment(["WORLD_SIZE": "2", "RANK": "5", "MASTER_PORT": "1"])) {
            error in
            XCTAssertTrue("\(error)".contains("RANK in 0..<2"), "\(error)")
        }
        XCTAssertThrowsError(
            try processGroupFromEnvironment([
                "WORLD_SIZE": "2", "RANK": "0", "MASTER_PORT": "1",
                "MASTER_ADDR": "gpu-node-7"
            ])
        ) { error in
            XCTAssertTrue("\(error)".contains("MASTER_ADDR 'gpu-node-7'"), "\(error)")
        }
    }

    /// Three ranks over loopback TCP: ranks 1 and 2 run on threads (they touch no tensors), rank 0 here.
    func testSocketGroupGathersAndSumsInRankOrderOnEveryRank() throws {
        let listener = try SocketProcessGroup.makeListener()
        let results = Results()
        for rank in 1...2 {
            results.start {
                let group = try SocketProcessGroup.joining(
                    rank: rank, worldSize: 3, host: "127.0.0.1", port: listener.port, timeout: 20)
                let gathered = try group.allGather([Double(rank), Double(10 * rank)])
                let summed = try group.allReduceSum([Float(rank) + 0.5, 1, -Float(rank)])
                let empty = try group.allGather([])
                return "\(gathered) \(summed) \(empty)"
            }
        }
        let root = try SocketProcessGroup.accepting(worldSize: 3, listener: listener, timeout: 20)
        XCTAssertEqual(root.rank, 0)
        XCTAssertEqual(root.worldSize, 3)
        XCTAssertEqual(try root.allGather([0, 0]), [0, 0, 1, 10, 2, 20])
        XCTAssertEqual(try root.allReduceSum([0.5, 1, 0]), [4.5, 3, -3])
        XCTAssertEqual(try root.allGather([]), [])
        let expected = "[0.0, 0.0, 1.0, 10.0, 2.0, 20.0] [4.5, 3.0, -3.0] []"
        XCTAssertEqual(try results.wait(), [expected, expected])
    }

    func testMismatchedCollectivesAndALostRankAreNamed() throws {
        let listener = try SocketProcessGroup.makeListener()
        let results = Results()
        results.start {
            let group = try SocketProcessGroup.joining(
                rank: 1, worldSize: 2, host: "127.0.0.1", port: listener.port, timeout: 20)
            // Rank 0 is in allGather: it refuses this frame and, having given up, closes the connection; this rank,
            // waiting for the sum, learns that rank 0 is gone.
            _ = try group.allReduceSum([1])
            return "unreachable"
        }
        var root: SocketProcessGroup? = try SocketProcessGroup.accepting(worldSize: 2, listener: listener, timeout: 20)
        XCTAssertThrowsError(try root!.allGather([0])) { error in
            XCTAssertTrue("\(error)".contains("rank 0 is in allGather but rank 1 sent allReduceSum"), "\(error)")
        }
        root = nil  // closes the connection, as an exiting rank 0 would
        XCTAssertThrowsError(try results.wait()) { error in
            XCTAssertTrue("\(error)".contains("rank 0 closed its connection"), "\(error)")
        }
    }

    func testARankThatNeverConnectsTimesOutWithItsNumber() throws {
        let listener = try SocketProcessGroup.makeListener()
        XCTAssertThrowsError(try SocketProcessGroup.accepting(worldSize: 2, listener: listener, timeout: 1.5)) {
            error in
            XCTAssertTrue("\(error)".contains("rank(s) 1 never connected"), "\(error)")
        }
        XCTAssertThrowsError(
            try SocketProcessGroup.accepting(worldSize: 2, listener: listener, timeout: 30) {
                throw ProcessGroupError.rankExitedBeforeJoining(rank: 1, status: 1)
            }
        ) { error in
            XCTAssertEqual(error as? ProcessGroupError, .rankExitedBeforeJoining(rank: 1, status: 1))
            XCTAssertEqual("\(error)", "rank 1 exited with status 1 before it joined the run (its error is above)")
        }
    }

    func testRankSeedsKeepRankZeroAndDifferPerRank() {
        XCTAssertEqual(rankSeed(42, rank: 0), 42)
        XCTAssertEqual(Set((0..<8).map { rankSeed(42, rank: $0) }).count, 8)
    }
}

/// What socket-only ranks on threads returned (or threw), in start order.
final class Results: @unchecked Sendable {
    private let lock = NSLock()
    private let done = DispatchGroup()
    private var outcomes: [Int: Result<String, Error>] = [:]
    private var started = 0

    func start(_ body: @escaping @Sendable () throws -> String) {
        lock.lock(); let index = started; started += 1; lock.unlock()
        done.enter()
        Thread {
            let outcome = Result { try body() }
            self.lock.lock(); self.outcomes[index] = outcome; self.lock.unlock()
            self.done.leave()
        }.start()
    }

    func wait() throws -> [String] {
        done.wait()
        return try (0..<started).map { try outcomes[$0]!.get() }
    }
}
