import Engine
import Foundation
import TestSupport
import XCTest

/// Reshaping, axis permutations, joining/splitting, padding, repetition, subscripts and gathers against PyTorch.
/// These ops only move values, so results must match exactly.
final class OpsShapeTests: XCTestCase {
    func testReshapeTransposeAndAxisMoves() throws {
        let x = try golden("shape.x")
        assertClose(x.reshaped(4, 6), try golden("shape.reshape"), tolerance: 0, "reshape")
        assertClose(x.reshaped(4, -1), try golden("shape.reshape"), tolerance: 0, "reshape with -1")
        assertClose(x.transposed(2, 0, 1), try golden("shape.transpose_201"), tolerance: 0, "transpose(2, 0, 1)")
        assertClose(x.transposed(), try golden("shape.transpose_rev"), tolerance: 0, "transpose()")
        assertClose(x.swappedAxes(0, 2), try golden("shape.swap_02"), tolerance: 0, "swapAxes")
        assertClose(x.movedAxis(0, to: 2), try golden("shape.moveaxis_0_2"), tolerance: 0, "moveAxis")
        assertClose(x.flattened(start: 1, end: 2), try golden("shape.flatten_12"), tolerance: 0, "flatten")
        XCTAssertEqual(x.flattened().shape, [24])
    }

    func testExpandSqueezeAndBroadcast() throws {
        let x = try golden("shape.x"), y = try golden("shape.y")
        let expanded = x.expandedDims([0, 2])
        XCTAssertEqual(expanded.shape, [1, 2, 1, 3, 4])
        assertClose(expanded, try golden("shape.expand_02"), tolerance: 0, "expandDims")
        assertClose(expanded.squeezed(), x, tolerance: 0, "squeeze all")
        XCTAssertEqual(x.expandedDims(axis: -1).shape, [2, 3, 4, 1])
        assertClose(y.squeezed(axis: 1), try golden("shape.squeeze_1"), tolerance: 0, "squeeze axis 1")
        assertClose(y.broadcast(to: [3, 2, 3, 4]), try golden("shape.broadcast"), tolerance: 0, "broadcast")
    }

    func testConcatenateStackAndSplit() throws {
        let x = try golden("shape.x"), y = try golden("shape.y")
        assertClose(concatenated([x, y], axis: 1), try golden("shape.concat_1"), tolerance: 0, "concatenate")
        assertClose(stacked([x, x * 2], axis: -1), try golden("shape.stack_m1"), tolerance: 0, "stack")

        let atIndices = x.split(at: [1, 3], axis: 2)
        XCTAssertEqual(atIndices.map(\.shape), [[2, 3, 1], [2, 3, 2], [2, 3, 1]])
        for (i, piece) in atIndices.enumerated() {
            assertClose(piece, try golden("shape.split_at.\(i)"), tolerance: 0, "split(at:) piece \(i)")
        }
        let parts = x.split(parts: 3, axis: 1)
        XCTAssertEqual(parts.count, 3)
        for (i, piece) in parts.enumerated() {
            assertClose(piece, try golden("shape.split_parts.\(i)"), tolerance: 0, "split(parts:) piece \(i)")
        }
    }

    func testPadRepeatTileAndUpsample() throws {
        let x = try golden("shape.x")
        // Widths for the leading axes only; the rest stay unpadded.
        assertClose(x.padded([(0, 0), (1, 1), (2, 0)], value: 0.5), try golden("shape.pad"), tolerance: 0, "pad")
        assertClose(x.repeated(2, axis: 1), try golden("shape.repeat_interleave_1"), tolerance: 0, "repeat")
        assertClose(x.tiled([1, 2, 3]), try golden("shape.tile"), tolerance: 0, "tile")
        assertClose(x.tiled([2, 1, 1, 1]), try golden("shape.tile_prepend"), tolerance: 0, "tile with a new axis")
        let image = try golden("shape.upsample.x")
        XCTAssertEqual(image.shape, [1, 2, 3, 3])
        let up = image.upsampledNearest(scale: 2)
        XCTAssertEqual(up.shape, [1, 4, 6, 3])
        assertClose(up, try golden("shape.upsample.out"), tolerance: 0, "upsample nearest")
    }

    func testSlicingWithRangesAndStrides() throws {
        let x = try golden("index.x")
        XCTAssertEqual(x.shape, [3, 4, 5])
        assertClose(x[0..<2, .all, 1], try golden("index.a"), tolerance: 0, "x[0:2, :, 1]")
        assertClose(x[.ellipsis, -1], try golden("index.b"), tolerance: 0, "x[..., -1]")
        assertClose(x[1, 1..., .stride(nil, nil, by: 2)], try golden("index.c"), tolerance: 0, "x[1, 1:, ::2]")
        assertClose(x[.all, .newAxis, 2], try golden("index.d"), tolerance: 0, "x[:, None, 2]")
        assertClose(x[(-2)..., .stride(1, 4, by: 2), 3...], try golden("index.e"), tolerance: 0, "x[-2:, 1:4:2, 3:]")
        assertClose(x[0...1, ..<4, 1], try golden("index.a"), tolerance: 0, "closed and partial ranges")

        let s = try golden("shape.x")
        assertClose(
            s.sliced(start: [0, 0, 1], stop: [2, 3, 4], strides: [1, 2, 2]), try golden("shape.slice_strided"),
            tolerance: 0, "sliced(start:stop:strides:)")
    }

    func testSubscriptAssignment() throws {
        var x = try golden("index.x")
        x[1, .all, 2..<4] = Tensor.arange(0, 8).reshaped(4, 2)
        assertClose(x, try golden("index.set_rows"), tolerance: 0, "x[1, :, 2:4] = …")
        // A scalar broadcasts over the region, and the tensor keeps its dtype.
        var z = Tensor.zeros([2, 3], dtype: .bfloat16)
        z[.all, 1] = Tensor(Float(7))
        XCTAssertEqual(z.dtype, .bfloat16)
        XCTAssertEqual(z.toArray(Float.self), [0, 7, 0, 0, 7, 0])
    }

    func testTakeAndGather() throws {
        let x = try golden("index.x")
        let taken = x.take(try golden("index.take.idx"), axis: 1)
        XCTAssertEqual(taken.shape, [3, 2, 2, 5])
        assertClose(taken, try golden("index.take_1"), tolerance: 0, "take along axis 1")
        let flat = x.flattened().take(Tensor([0, 59, 17, 17] as [Int32]), axis: 0)
        assertClose(flat, try golden("index.take_flat"), tolerance: 0, "take from the flattened tensor")
        assertClose(
            x.take(alongAxis: -1, try golden("index.gather.idx")), try golden("index.gather_m1"), tolerance: 0,
            "takeAlongAxis (gather)")
    }
}
