import Engine
import Foundation
import TestSupport
import XCTest

/// Convolutions and transposed convolutions against PyTorch. The goldens are already channels-last (see the
/// generator's docstring), so the tests feed them straight in.
final class OpsConvolutionTests: XCTestCase {
    private func check(
        _ name: String, file: StaticString = #filePath, line: UInt = #line,
        _ op: (Tensor, Tensor) -> Tensor
    ) throws {
        let x = try golden("conv.\(name).x"), w = try golden("conv.\(name).w")
        assertClose(op(x, w), try golden("conv.\(name).out"), tolerance: 1e-5, "conv.\(name)", file: file, line: line)
    }

    private func checkTransposed(
        _ name: String, file: StaticString = #filePath, line: UInt = #line,
        _ op: (Tensor, Tensor) -> Tensor
    ) throws {
        let x = try golden("convT.\(name).x"), w = try golden("convT.\(name).w")
        assertClose(op(x, w), try golden("convT.\(name).out"), tolerance: 1e-5, "convT.\(name)", file: file, line: line)
    }

    func testConv1dStridedDilatedGrouped() throws {
        try check("1d") { conv1d($0, $1, stride: 2, padding: 1, dilation: 2, groups: 2) }
    }

    func testConv2d() throws {
        try check("2d") { conv2d($0, $1, padding: (1, 1)) }
    }

    func testConv2dStridedDilatedGrouped() throws {
        try check("2d_strided") { conv2d($0, $1, stride: (2, 1), padding: (1, 0), dilation: (1, 2), groups: 2) }
    }

    func testConv2dDepthwise() throws {
        try check("2d_depthwise") { conv2d($0, $1, padding: (1, 1), groups: 4) }
    }

    func testConv2dAsymmetricPadding() throws {
        try check("2d_asym") {
            convolution($0, $1, stride: [2, 2], padding: [1, 0], paddingHigh: [0, 1], dilation: [1, 1])
        }
    }

    func testConv3dStrided() throws {
        try check("3d") { conv3d($0, $1, stride: (1, 2, 1), padding: (1, 1, 0)) }
    }

    func testConvTranspose1d() throws {
        try checkTransposed("1d") {
            convolutionTransposed($0, $1, stride: [3], padding: [1], dilation: [1], outputPadding: [2])
        }
    }

    func testConvTranspose2d() throws {
        try checkTransposed("2d") {
            convolutionTransposed($0, $1, stride: [2, 2], padding: [1, 1], dilation: [1, 1], outputPadding: [1, 1])
        }
    }

    func testConvTranspose2dDilated() throws {
        try checkTransposed("2d_dilated") {
            convolutionTransposed($0, $1, stride: [1, 2], padding: [0, 1], dilation: [2, 1], outputPadding: [0, 0])
        }
    }

    func testConvTranspose2dGrouped() throws {
        try checkTransposed("2d_groups") {
            convolutionTransposed(
                $0, $1, stride: [2, 2], padding: [1, 1], dilation: [1, 1], outputPadding: [0, 0],
                groups: 2)
        }
    }

    func testConvTranspose3d() throws {
        try checkTransposed("3d") {
            convolutionTransposed(
                $0, $1, stride: [2, 1, 2], padding: [0, 1, 1], dilation: [1, 1, 1],
                outputPadding: [1, 0, 0])
        }
    }
}
