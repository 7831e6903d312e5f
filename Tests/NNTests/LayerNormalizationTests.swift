import Engine
import NN
import TestSupport
import XCTest

/// LayerNorm, RMSNorm and GroupNorm (channels-last) against PyTorch.
final class LayerNormalizationTests: XCTestCase {
    private func check(_ name: String, _ layer: Module & UnaryLayer, file: StaticString = #filePath, line: UInt = #line)
        throws
    {
        _ = try LayerFixture.load(name, into: layer)
        assertClose(
            layer(LayerFixture.tensor("\(name).x")), LayerFixture.tensor("\(name).out"), name, file: file, line: line)
    }

    func testLayerNorm() throws {
        try check("layernorm", LayerNorm(6, eps: 1e-6))
        let plain = LayerNorm(6, elementwiseAffine: false)
        XCTAssertTrue(plain.namedSlots().isEmpty)
        try check("layernorm_plain", plain)
    }

    func testRMSNorm() throws {
        try check("rmsnorm", RMSNorm(6, eps: 1e-6))
    }

    func testGroupNormOnChannelsLastInput() throws {
        try check("groupnorm", GroupNorm(groups: 3, channels: 6))
        try check("groupnorm3d", GroupNorm(groups: 2, channels: 4, eps: 1e-6))
    }

    /// Reduced-precision input: statistics in float32, result in the input's dtype.
    func testGroupNormKeepsInputDtype() throws {
        let norm = try LayerFixture.load("groupnorm", into: GroupNorm(groups: 3, channels: 6))
        let x = LayerFixture.tensor("groupnorm.x")
        let y = norm(x.asType(.bfloat16))
        XCTAssertEqual(y.dtype, .bfloat16)
        assertClose(y, LayerFixture.tensor("groupnorm.out"), tolerance: 3e-2)
    }
}
