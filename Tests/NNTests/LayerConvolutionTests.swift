import Engine
import NN
import TestSupport
import XCTest

/// Convolutions against PyTorch: torch state dicts load as they are (channels-first weights), activations are
/// channels-last, and `checkpointTensors()` gives torch's layout back bit for bit.
final class LayerConvolutionTests: XCTestCase {
    private func check(_ name: String, _ layer: Module & UnaryLayer, file: StaticString = #filePath, line: UInt = #line)
        throws
    {
        _ = try LayerFixture.load(name, into: layer)
        assertClose(
            layer(LayerFixture.tensor("\(name).x")), LayerFixture.tensor("\(name).out"), name, file: file, line: line)
        for (key, stored) in LayerFixture.parameters(name) {
            let saved = try XCTUnwrap(
                layer.checkpointTensors()[key], "\(name): \(key) not saved", file: file, line: line)
            XCTAssertEqual(saved.shape, stored.shape, "\(name).\(key)", file: file, line: line)
            XCTAssertEqual(maxAbsDifference(saved, stored), 0, "\(name).\(key)", file: file, line: line)
        }
    }

    func testConv1dWithGroupsStrideDilation() throws {
        try check("conv1d", Conv1d(4, 6, kernelSize: 3, stride: 2, padding: 1, dilation: 2, groups: 2))
    }

    func testConv2dWithPerAxisSizes() throws {
        try check("conv2d", Conv2d(3, 4, kernelSize: [3, 2], stride: [2, 1], padding: [1, 0]))
    }

    /// An even kernel with "same" padding pads one more element after than before, as torch does.
    func testConv2dSamePaddingWithEvenKernel() throws {
        let layer = Conv2d(2, 3, kernelSize: 4, padding: .same, bias: false)
        try check("conv2d_same", layer)
        XCTAssertEqual(layer(LayerFixture.tensor("conv2d_same.x")).shape, [1, 5, 6, 3])
    }

    func testConv3d() throws {
        try check("conv3d", Conv3d(2, 3, kernelSize: [2, 3, 3], stride: [1, 2, 1], padding: [1, 1, 0]))
    }

    func testConvTranspose1dWithOutputPadding() throws {
        try check("convT1d", ConvTranspose1d(3, 4, kernelSize: 3, stride: 3, padding: 1, outputPadding: 2))
    }

    /// Groups swap the channel roles per group between torch's [C_in, C_out/g, *K] and the engine's layout.
    func testConvTranspose2dWithGroups() throws {
        try check("convT2d", ConvTranspose2d(4, 6, kernelSize: 3, stride: 2, padding: 1, outputPadding: 1, groups: 2))
    }

    func testConvTranspose3d() throws {
        try check("convT3d", ConvTranspose3d(2, 3, kernelSize: [2, 3, 2], stride: [2, 1, 2], padding: [0, 1, 1]))
    }

    func testFreshLayersHaveTorchShapesOnDisk() {
        XCTAssertEqual(Conv2d(3, 8, kernelSize: [3, 1], groups: 1).checkpointTensors()["weight"]?.shape, [8, 3, 3, 1])
        XCTAssertEqual(Conv2d(3, 8, kernelSize: [3, 1]).weight.shape, [8, 3, 1, 3])
        XCTAssertEqual(
            ConvTranspose2d(4, 6, kernelSize: 2, groups: 2).checkpointTensors()["weight"]?.shape, [4, 3, 2, 2])
        XCTAssertEqual(ConvTranspose2d(4, 6, kernelSize: 2, groups: 2).weight.shape, [6, 2, 2, 2])
    }

    func testWrongRankCheckpointTensorIsReportedNotCrashed() {
        let layer = Conv2d(3, 4, kernelSize: 3)
        XCTAssertThrowsError(try layer.load(["weight": Tensor.zeros([4, 27]), "bias": Tensor.zeros([4])])) { error in
            XCTAssertTrue("\(error)".contains("weight: expected [4, 3, 3, 3], found [4, 27]"), "\(error)")
        }
    }
}
