import Checkpoints
import Engine
import Foundation
import TestSupport
import XCTest

/// `SafeTensors.save(streaming:)`: tensors handed over one at a time make the file a whole-dictionary save makes
/// (as read back), and a tensor out of order, of another shape, or missing leaves no file.
final class SafeTensorsStreamingTests: XCTestCase {
    private let entries = [
        SafeTensors.StreamedEntry(key: "z.weight", dtype: .float32, shape: [2, 3]),
        SafeTensors.StreamedEntry(key: "a.step", dtype: .int32, shape: []),
        SafeTensors.StreamedEntry(key: "m.bias", dtype: .bfloat16, shape: [4])
    ]
    private let tensors: [String: Tensor] = [
        "z.weight": Tensor([1, 2, 3, 4, 5, 6] as [Float], shape: [2, 3]), "a.step": Tensor(Int32(7)),
        "m.bias": Tensor([0.5, -1, 2, 8] as [Float]).asType(.bfloat16)
    ]

    func testStreamedFileReadsBackAsTheTensors() throws {
        let url = try temporaryDirectory(self).appendingPathComponent("streamed.safetensors")
        try SafeTensors.save(streaming: entries, metadata: ["optimizer": "AdamW"], to: url) { write in
            for entry in entries { try write(entry.key, tensors[entry.key]!) }
        }
        let (loaded, metadata) = try SafeTensors.loadWithMetadata(url)
        XCTAssertEqual(metadata["optimizer"], "AdamW")
        XCTAssertEqual(Set(loaded.keys), Set(tensors.keys))
        for (key, tensor) in tensors {
            XCTAssertEqual(loaded[key]!.dtype, tensor.dtype, key)
            XCTAssertEqual(
                loaded[key]!.asType(.float32).toArray(Float.self), tensor.asType(.float32).toArray(Float.self))
        }
    }

    func testOutOfOrderWrongShapeOrMissingTensorIsRefusedAndLeavesNoFile() throws {
        let folder = try temporaryDirectory(self)
        let cases: [(String, ((String, Tensor) throws -> Void) throws -> Void, String)] = [
            ("order", { write in try write("a.step", self.tensors["a.step"]!) }, "expected 'z.weight' float32 [2, 3]"),
            (
                "shape", { write in try write("z.weight", Tensor.zeros([3, 2])) },
                "expected 'z.weight' float32 [2, 3] next, got 'z.weight' float32 [3, 2]"
            ),
            ("missing", { write in try write("z.weight", self.tensors["z.weight"]!) }, "got the end after 1 tensors")
        ]
        for (name, produce, message) in cases {
            let url = folder.appendingPathComponent("\(name).safetensors")
            XCTAssertThrowsError(try SafeTensors.save(streaming: entries, to: url, produce: produce), name) {
                XCTAssertTrue("\($0)".contains(message), "\(name): \($0)")
                XCTAssertTrue("\($0)".contains(url.path), "\(name): \($0)")
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: url.path), name)
        }
    }
}
