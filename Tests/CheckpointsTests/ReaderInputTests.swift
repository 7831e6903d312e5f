import Checkpoints
import Engine
import Foundation
import TestSupport
import XCTest

/// Hostile and careless inputs to the checkpoint readers: each is refused at open with a message naming the file,
/// the tensor and what was expected against what was found, never a trap or an out-of-bounds read.
final class ReaderInputTests: XCTestCase {
    private func assertThrows(_ body: @autoclosure () throws -> Any, containing parts: [String], line: UInt = #line) {
        XCTAssertThrowsError(try body(), line: line) { error in
            let text = "\(error)"
            for part in parts { XCTAssert(text.contains(part), "'\(part)' missing from: \(text)", line: line) }
        }
    }

    /// A safetensors file with this header (padded as written) and data section.
    private func safetensors(_ header: String, data: [UInt8] = [], in folder: URL, name: String = "bad.safetensors")
        throws -> URL
    {
        let json = Array(header.utf8)
        var length = UInt64(json.count).littleEndian
        let url = folder.appendingPathComponent(name)
        try (Data(bytes: &length, count: 8) + Data(json) + Data(data)).write(to: url)
        return url
    }

    // MARK: - safetensors shapes and sizes

    func testElementCountOverflowIsRefused() throws {
        let url = try safetensors(
            #"{"w": {"dtype": "F32", "shape": [2147483647, 2147483647, 2147483647], "data_offsets": [0, 4]}}"#,
            data: [0, 0, 0, 0], in: try temporaryDirectory(self))
        assertThrows(
            try SafeTensorsFile(url: url),
            containing: ["bad.safetensors", "tensor 'w'", "[2147483647, 2147483647, 2147483647]", "64-bit size"])
    }

    func testZeroByteTensorWithAHugeDimensionIsRefusedAtOpen() throws {
        let url = try safetensors(
            #"{"w": {"dtype": "F32", "shape": [0, 4294967296], "data_offsets": [0, 0]}}"#,
            in: try temporaryDirectory(self))
        assertThrows(
            try SafeTensorsFile(url: url),
            containing: ["bad.safetensors", "tensor 'w'", "[0, 4294967296]", "dimension above 2147483647"])
    }

    func testNonIntegerShapesAndOffsetsAreRefused() throws {
        let folder = try temporaryDirectory(self)
        for entry in [
            #"{"dtype": "F32", "shape": [1e30], "data_offsets": [0, 4]}"#,
            #"{"dtype": "F32", "shape": [1], "data_offsets": [0, 4.5]}"#,
            #"{"dtype": "F32", "shape": [1], "data_offsets": [0, 18446744073709551616]}"#
        ] {
            let url = try safetensors(#"{"w": \#(entry)}"#, data: [0, 0, 0, 0], in: folder)
            assertThrows(try SafeTensorsFile(url: url), containing: ["tensor 'w'", "as integers"])
        }
    }

    func testHeaderLengthAboveTheLimitIsRefusedBeforeReading() throws {
        let url = try temporaryDirectory(self).appendingPathComponent("huge.safetensors")
        var length = UInt64(1 << 40).littleEndian
        try (Data(bytes: &length, count: 8) + Data("{}".utf8)).write(to: url)
        assertThrows(
            try SafeTensorsFile(url: url),
            containing: ["huge.safetensors", "header length 1099511627776", "limit of 100000000 bytes"])
    }

    // MARK: - safetensors layout: contiguous, non-overlapping, covering the data section

    func testOverlappingTensorsAreRefused() throws {
        let url = try safetensors(
            #"""
            {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
             "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}
            """#, data: [UInt8](repeating: 0, count: 12), in: try temporaryDirectory(self))
        assertThrows(
            try SafeTensorsFile(url: url),
            containing: ["bad.safetensors", "tensor 'b' starts at byte 4", "expected 8 where 'a' ends"])
    }

    func testGapBetweenTensorsIsRefused() throws {
        let url = try safetensors(
            #"""
            {"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
             "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}
            """#, data: [UInt8](repeating: 0, count: 12), in: try temporaryDirectory(self))
        assertThrows(try SafeTensorsFile(url: url), containing: ["tensor 'b' starts at byte 8", "expected 4"])
    }

    func testFirstTensorMustStartTheDataSection() throws {
        let url = try safetensors(
            #"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}"#,
            data: [UInt8](repeating: 0, count: 8), in: try temporaryDirectory(self))
        assertThrows(
            try SafeTensorsFile(url: url),
            containing: ["tensor 'a' starts at byte 4", "expected 0 (the first tensor starts the data section)"])
    }

    func testBytesAfterTheLastTensorAreRefused() throws {
        let url = try safetensors(
            #"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}"#,
            data: [UInt8](repeating: 0, count: 8), in: try temporaryDirectory(self))
        assertThrows(
            try SafeTensorsFile(url: url),
            containing: ["bad.safetensors", "the tensors cover 4 bytes of the data section, which has 8"])
    }

    // MARK: - Sharded indexes stay inside their folder

    func testIndexShardPathsOutsideTheFolderAreRefused() throws {
        let root = try temporaryDirectory(self)
        let folder = root.appendingPathComponent("model")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let outside = root.appendingPathComponent("secret.safetensors")
        try SafeTensors.save(["w": Tensor([1] as [Float], shape: [1])], to: outside)
        try FileManager.default.createSymbolicLink(
            at: folder.appendingPathComponent("link.safetensors"), withDestinationURL: outside)
        for shard in ["../secret.safetensors", outside.path, "link.safetensors", "sub/../../secret.safetensors"] {
            let index = folder.appendingPathComponent("model.safetensors.index.json")
            try JSONSerialization.data(withJSONObject: ["weight_map": ["w": shard]]).write(to: index)
            assertThrows(
                try SafeTensorsCheckpoint(directory: folder),
                containing: ["model.safetensors.index.json", "'w'", "outside the index's folder"])
            let torchIndex = folder.appendingPathComponent("pytorch_model.bin.index.json")
            try JSONSerialization.data(withJSONObject: ["weight_map": ["w": shard]]).write(to: torchIndex)
            assertThrows(
                try ShardedTorchCheckpoint(index: torchIndex),
                containing: ["pytorch_model.bin.index.json", "'w'", "outside the index's folder"])
        }
    }

    // MARK: - Terminal escaping

    func testFileTextInMessagesIsEscaped() throws {
        XCTAssertEqual("a\u{1B}[2Jb\nc\td\u{202E}e".escapedForTerminal, "a\\u{1B}[2Jb\\nc\\td\\u{202E}e")
        XCTAssertEqual("model.layers.0.weight ü".escapedForTerminal, "model.layers.0.weight ü")
        let url = try safetensors(
            #"{"evil\u001b[31m\n": {"dtype": "X\u0007", "shape": [1], "data_offsets": [0, 4]}}"#,
            data: [0, 0, 0, 0], in: try temporaryDirectory(self))
        XCTAssertThrowsError(try SafeTensorsFile(url: url)) { error in
            let text = "\(error)"
            XCTAssert(text.contains(#"tensor 'evil\u{1B}[31m\n': unsupported dtype X\u{7}"#), text)
            XCTAssertFalse(text.unicodeScalars.contains { $0.value < 0x20 }, text)
        }
    }

    // MARK: - Verification (`inspect --verify`)

    func testVerificationCountsNonFiniteValues() throws {
        let folder = try temporaryDirectory(self)
        let url = folder.appendingPathComponent("weights.safetensors")
        try SafeTensors.save(
            [
                "w": Tensor([1, .nan, .infinity, -.infinity, 0] as [Float], shape: [5]),
                "h": Tensor([1, .nan] as [Float], shape: [2]).asType(.float16),
                "b": Tensor([.infinity, 2] as [Float], shape: [2]).asType(.bfloat16),
                "i": Tensor([1, 2, 3] as [Int32], shape: [3])
            ], to: url)
        let report = try CheckpointVerifier.verify(path: url)
        XCTAssertEqual(report.tensors.map(\.key), ["b", "h", "i", "w"])
        XCTAssertEqual(report.tensors.map(\.nonFinite), [1, 1, 0, 3])
        XCTAssertEqual(report.tensors.map(\.bytes), [4, 4, 12, 20])
        XCTAssertEqual(report.totalElements, 12)
        XCTAssertEqual(report.totalBytes, 40)
        XCTAssertEqual(report.totalNonFinite, 5)
        XCTAssertEqual(report.tensorsWithNonFinite, ["b", "h", "w"])
    }

    func testVerificationReadsTorchViews() throws {
        let report = try CheckpointVerifier.verify(path: Fixture.url("torch_checkpoints/views.pt"))
        XCTAssertFalse(report.tensors.isEmpty)
        for tensor in report.tensors {
            XCTAssertEqual(tensor.bytes, tensor.shape.reduce(1, *) * tensor.dtype.size, tensor.key)
        }
    }
}
