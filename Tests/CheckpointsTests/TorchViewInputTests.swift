import Checkpoints
import Foundation
import TestSupport
import XCTest

/// Forged torch views: sizes and strides are numbers in a pickle, so a 2 KB file can describe a tensor of 2^48
/// elements over a storage of two. Each is refused when the file is opened, naming the tensor.
final class TorchViewInputTests: XCTestCase {
    /// A pickle integer: BININT when it fits 32 bits, else LONG1 with 8 bytes.
    private func int(_ value: Int) -> [UInt8] {
        if let small = Int32(exactly: value) { return [0x4a] + withUnsafeBytes(of: small.littleEndian, Array.init) }
        return [0x8a, 8] + withUnsafeBytes(of: value.littleEndian, Array.init)
    }

    private func text(_ value: String) -> [UInt8] {
        [0x58] + withUnsafeBytes(of: UInt32(value.utf8.count).littleEndian, Array.init) + Array(value.utf8)
    }

    private func tuple(_ values: [Int]) -> [UInt8] { [0x28] + values.flatMap(int) + [0x74] }

    /// A legacy-format torch.save file holding `{'w': _rebuild_tensor_v2(storage of numel floats, 0, size, stride)}`.
    private func legacyFile(numel: Int, size: [Int], stride: [Int], in folder: URL) throws -> URL {
        let magic: [UInt8] = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]
        let header = magic + [0x80, 0x02, 0x4d, 0xe9, 0x03, 0x2e] + [0x80, 0x02, 0x7d, 0x2e]
        var object: [UInt8] = [0x80, 0x02, 0x7d] + text("w") + Array("ctorch._utils\n_rebuild_tensor_v2\n".utf8)
        object += [0x28, 0x28] + text("storage") + Array("ctorch\nFloatStorage\n".utf8) + text("0") + text("cpu")
        object += int(numel) + [0x74, 0x51] + int(0) + tuple(size) + tuple(stride) + [0x89]
        object += Array("ccollections\nOrderedDict\n".utf8) + [0x29, 0x52, 0x74, 0x52, 0x73, 0x2e]
        let keys: [UInt8] = [0x80, 0x02, 0x5d] + text("0") + [0x61, 0x2e]
        let storage =
            withUnsafeBytes(of: UInt64(numel).littleEndian, Array.init) + [UInt8](repeating: 0, count: numel * 4)
        let url = folder.appendingPathComponent("view.pt")
        try Data(header + object + keys + storage).write(to: url)
        return url
    }

    private func assertThrows(_ body: @autoclosure () throws -> Any, containing parts: [String], line: UInt = #line) {
        XCTAssertThrowsError(try body(), line: line) { error in
            let text = "\(error)"
            for part in parts { XCTAssert(text.contains(part), "'\(part)' missing from: \(text)", line: line) }
        }
    }

    func testTheBuilderMakesAValidFile() throws {
        let url = try legacyFile(numel: 6, size: [2, 3], stride: [3, 1], in: try temporaryDirectory(self))
        let file = try TorchCheckpointFile(path: url)
        XCTAssertEqual(file.keys, ["w"])
        XCTAssertEqual(try file.bytes("w").count, 24)
        // A modest broadcast (stride 0) within the bound still loads.
        let broadcast = try legacyFile(numel: 3, size: [4, 3], stride: [0, 1], in: try temporaryDirectory(self))
        XCTAssertEqual(try TorchCheckpointFile(path: broadcast).tensor("w").shape, [4, 3])
    }

    func testStrideZeroViewOfTwoTo48ElementsIsRefused() throws {
        let url = try legacyFile(numel: 2, size: [1 << 24, 1 << 24], stride: [0, 0], in: try temporaryDirectory(self))
        assertThrows(
            try TorchCheckpointFile(path: url),
            containing: [
                "view.pt", "tensor 'w'", "[16777216, 16777216]", "stride [0, 0]", "281474976710656 elements",
                "storage '0' of 2", "at most 65536 are accepted", "16× the storage, or 65536"
            ])
    }

    func testZeroElementViewWithAHugeDimensionIsRefused() throws {
        let url = try legacyFile(numel: 1, size: [0, 1 << 32], stride: [1, 1], in: try temporaryDirectory(self))
        assertThrows(
            try TorchCheckpointFile(path: url),
            containing: ["view.pt", "tensor 'w'", "[0, 4294967296]", "dimension above 2147483647"])
    }

    func testViewPastItsStorageIsRefusedAtOpen() throws {
        let url = try legacyFile(numel: 4, size: [3, 2], stride: [2, 1], in: try temporaryDirectory(self))
        assertThrows(
            try TorchCheckpointFile(path: url),
            containing: ["view.pt", "tensor 'w'", "reaches element 6 of storage '0', which has 4"])
    }

    /// One list of 100,000 numbers referred to by 5,000 entries: asking each reference whether the list holds a
    /// tensor by searching it again took 5 × 10^8 steps; the answer is now computed once for every container.
    func testSharedSubgraphIsFlattenedInLinearTime() throws {
        let magic: [UInt8] = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]
        let header = magic + [0x80, 0x02, 0x4d, 0xe9, 0x03, 0x2e] + [0x80, 0x02, 0x7d, 0x2e]
        var object: [UInt8] = [0x80, 0x02, 0x5d, 0x71, 0x00, 0x28]  // EMPTY_LIST, BINPUT 0, MARK
        object += [UInt8](repeating: 0, count: 100_000 * 2).enumerated().map { $0.offset % 2 == 0 ? 0x4b : 1 }
        object += [0x65, 0x30, 0x7d, 0x28]  // APPENDS, POP, EMPTY_DICT, MARK
        for i in 0..<5000 { object += text("k\(i)") + [0x68, 0x00] }  // key, BINGET 0
        object += [0x75, 0x2e]  // SETITEMS, STOP
        let url = try temporaryDirectory(self).appendingPathComponent("shared.pt")
        try Data(header + object + [0x80, 0x02, 0x5d, 0x2e]).write(to: url)
        let start = Date()
        let file = try TorchCheckpointFile(path: url)
        XCTAssertEqual(file.keys, [])
        XCTAssertEqual(file.skippedKeys.count, 5000)
        XCTAssertLessThan(Date().timeIntervalSince(start), 20)
    }

    func testOverflowingSizeIsRefusedInThePickle() throws {
        let url = try legacyFile(
            numel: 1, size: [1 << 40, 1 << 40], stride: [1, 1], in: try temporaryDirectory(self))
        assertThrows(try TorchCheckpointFile(path: url), containing: ["view.pt", "too large"])
    }
}
