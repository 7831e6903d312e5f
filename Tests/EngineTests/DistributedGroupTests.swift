import Engine
import Foundation
import XCTest

/// The binding of `mlx::core::distributed` in one process (collectives across real processes are GRPOTests'
/// ProcessGroupTests): the one-process group, backend availability, and a backend that cannot form a group.
final class DistributedGroupTests: XCTestCase {
    func testWithoutALauncherAnyIsTheOneProcessGroupAndCollectivesReturnTheirInput() throws {
        guard ProcessInfo.processInfo.environment["MLX_RANK"] == nil else { throw XCTSkip("run under a launcher") }
        let group = try DistributedGroup(backend: .any)
        XCTAssertEqual(group.rank, 0)
        XCTAssertEqual(group.size, 1)
        let x = Tensor([1, 2, 3] as [Float], shape: [1, 3])
        XCTAssertEqual(group.allSum(x).toArray(Float.self), [1, 2, 3])
        XCTAssertEqual(group.allGather(x).shape, [1, 3])
    }

    func testRingIsInTheCPUBuildAndNeedsItsEnvironment() {
        XCTAssertTrue(DistributedGroup.isAvailable(.ring))
        XCTAssertTrue(DistributedGroup.availableBackends.contains(.ring))
        guard ProcessInfo.processInfo.environment["MLX_RANK"] == nil else { return }
        XCTAssertThrowsError(try DistributedGroup(backend: .ring)) { error in
            guard case .initFailed(.ring, let message) = error as? DistributedError else {
                return XCTFail("\(error)")
            }
            XCTAssertTrue(message.contains("MLX_RANK") && message.contains("MLX_HOSTFILE"), message)
        }
    }

    func testAnUnavailableBackendSaysWhichAreAvailable() {
        guard !DistributedGroup.isAvailable(.nccl) else { return }
        XCTAssertThrowsError(try DistributedGroup(backend: .nccl)) { error in
            XCTAssertEqual(
                error as? DistributedError,
                .unavailable(backend: .nccl, available: DistributedGroup.availableBackends))
            XCTAssertTrue("\(error)".hasPrefix("the nccl backend is not available in this build (available: "))
        }
    }
}
