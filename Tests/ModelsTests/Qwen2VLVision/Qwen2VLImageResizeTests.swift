import Checkpoints
import Engine
import Foundation
import Models
import TestSupport
import XCTest

/// The resizing step of transformers' Qwen2VLImageProcessor (tools/goldens/qwen2vl_image_resize.py): torch's uint8
/// antialiased bicubic, compared byte for byte, and the whole processor from an 8-bit image to `pixel_values`.
final class Qwen2VLImageResizeTests: XCTestCase {
    private struct Golden {
        let cases: [[Int]]
        let processor: Qwen2VLImageProcessor
        let tensors: [String: Tensor]
        func bytes(_ key: String) -> [UInt8] { tensors[key]!.toArray(UInt8.self) }
    }

    private func golden() throws -> Golden {
        let file = try SafeTensorsFile(url: Fixture.url("qwen2vl_image_resize.safetensors"))
        let json = try XCTUnwrap(file.metadata["config"])
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let cases = try XCTUnwrap(object["cases"] as? [[Int]])
        let processor = try JSONDecoder().decode(
            Qwen2VLImageProcessor.self, from: JSONSerialization.data(withJSONObject: object["processor"]!))
        return Golden(cases: cases, processor: processor, tensors: try file.tensors())
    }

    func testResizeMatchesTorchvisionByteForByte() throws {
        let g = try golden()
        XCTAssertEqual(g.cases.count, 4)
        for (i, c) in g.cases.enumerated() {
            var processor = Qwen2VLImageProcessor()
            (processor.patchSize, processor.mergeSize, processor.minPixels, processor.maxPixels) = (
                c[0] / 2, 2, c[1], c[2]
            )
            let source = g.tensors["source.\(i)"]!
            let expected = g.tensors["resized.\(i)"]!
            XCTAssertEqual(source.dtype, .uint8)
            let got = try processor.resize(rgb: g.bytes("source.\(i)"), height: source.dim(0), width: source.dim(1))
            XCTAssertEqual([got.height, got.width, 3], expected.shape, "case \(i)")
            let want = g.bytes("resized.\(i)")
            let differing = zip(got.rgb, want).filter { $0 != $1 }.count
            XCTAssertEqual(differing, 0, "case \(i): \(differing) of \(want.count) bytes differ")
            print("Qwen2VL resize case \(i): \(source.shape) → \(expected.shape), \(differing) bytes differ")
        }
    }

    func testProcessorFileLoadsAndNamesBadValues() throws {
        let folder = try temporaryDirectory(self)
        let file = folder.appendingPathComponent("preprocessor_config.json")
        // Qwen-Image-Edit's processor/preprocessor_config.json.
        try Data(
            #"""
            {"min_pixels": 3136, "max_pixels": 12845056, "patch_size": 14, "temporal_patch_size": 2, "merge_size": 2,
             "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],
             "image_processor_type": "Qwen2VLImageProcessor", "processor_class": "Qwen2_5_VLProcessor"}
            """#.utf8
        ).write(to: file)
        let processor = try Qwen2VLImageProcessor.load(folder)
        XCTAssertEqual(processor, Qwen2VLImageProcessor(minPixels: 3136, maxPixels: 12_845_056))
        let size = try processor.targetSize(height: 1024, width: 768)
        XCTAssertEqual([size.height, size.width], [1036, 756])
        try Data(#"{"merge_size": 0, "image_std": [0.3, 0, 0.3]}"#.utf8).write(to: file)
        XCTAssertThrowsError(try Qwen2VLImageProcessor.load(folder)) { error in
            let message = "\(error)"
            XCTAssert(message.contains(file.path), message)
            XCTAssert(message.contains("merge_size: expected a positive size"), message)
            XCTAssert(message.contains("image_std[1]: expected a finite nonzero number"), message)
        }
    }

    func testPreprocessFromAnEightBitImageMatchesTheProcessor() throws {
        let g = try golden()
        let source = g.tensors["e2e.source"]!
        let (pixelValues, grid) = try g.processor.preprocess(
            rgb: g.bytes("e2e.source"), height: source.dim(0), width: source.dim(1))
        XCTAssertEqual([grid.t, grid.h, grid.w], [1, 4, 8])
        let expected = g.tensors["e2e.pixel_values"]!
        assertClose(pixelValues, expected, tolerance: 1e-5, "pixel_values")
        print("Qwen2VL preprocess: max abs error \(maxAbsDifference(pixelValues, expected))")
    }
}
