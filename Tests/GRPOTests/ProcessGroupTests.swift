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

    func testSeveralProcessesAreRefusedWithTheReason() {
        XCTAssertThrowsError(try processGroupFromEnvironment(["WORLD_SIZE": "4", "RANK": "2"])) { error in
            XCTAssertTrue("\(error)".contains("WORLD_SIZE=4"), "\(error)")
        }
    }

    func testRankSeedsKeepRankZeroAndDifferPerRank() {
        XCTAssertEqual(rankSeed(42, rank: 0), 42)
        XCTAssertEqual(Set((0..<8).map { rankSeed(42, rank: $0) }).count, 8)
    }
}
