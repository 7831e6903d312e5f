import Foundation
import XCTest
import Engine

/// Guards the build itself: a test binary that silently fell back to the MLX wheel's reference BLAS would pass every
/// numerical test while running matrix products 30x slower.
final class BuildConfigurationTests: XCTestCase {
    func testMatrixProductsUseOpenBLAS() {
        XCTAssertTrue(
            Engine.usesOptimizedBLAS,
            "cblas_sgemm resolves to \(Engine.sgemmProvider); link -lopenblas ahead of -lmlx (Package.swift)")
    }

    func testLinkedMLXIsThePinnedVersion() throws {
        // The Makefile pins the wheel and exports MLX_VERSION; a stale .deps/mlx link would show up here.
        guard let pinned = ProcessInfo.processInfo.environment["MLX_VERSION"], !pinned.isEmpty else {
            throw XCTSkip("MLX_VERSION is not set: `make test` exports the pinned version")
        }
        XCTAssertEqual(Engine.mlxVersion, pinned)
    }
}
