import Checkpoints
import Engine
import Foundation
import TestSupport
import XCTest

final class SafeTensorsTests: XCTestCase {
    /// Every dtype the engine holds survives a save → load round trip bit for bit.
    func testRoundTripEveryDType() throws {
        let folder = try temporaryDirectory(self)
        let values: [Float] = [-2, -1.5, 0, 0.25, 1, 3]
        var tensors: [String: Tensor] = [:]
        for dtype in [
            DType.bool, .uint8, .uint16, .uint32, .uint64, .int8, .int16, .int32, .int64, .float16, .bfloat16, .float32
        ] {
            let source = dtype.isFloatingPoint ? Tensor(values, shape: [2, 3]) : Tensor(values, shape: [2, 3]).abs()
            tensors[dtype.description] = source.asType(dtype)
        }
        tensors["scalar"] = Tensor(7.25)
        tensors["empty"] = Tensor.zeros([0, 3])
        let url = folder.appendingPathComponent("all.safetensors")
        try SafeTensors.save(tensors, metadata: ["format": "pt", "note": "round trip"], to: url)
        let (loaded, metadata) = try SafeTensors.loadWithMetadata(url)
        XCTAssertEqual(metadata, ["format": "pt", "note": "round trip"])
        XCTAssertEqual(Set(loaded.keys), Set(tensors.keys))
        for (key, t) in tensors {
            XCTAssertEqual(loaded[key]!.dtype, t.dtype, key)
            XCTAssertEqual(loaded[key]!.shape, t.shape, key)
            XCTAssertEqual(loaded[key]!.bytes(), t.bytes(), key)
        }
    }

    /// A file written by the Python `safetensors` library reads with the right dtypes, shapes and values.
    func testReadsTheReferenceWriter() throws {
        let file = try SafeTensorsFile(url: Fixture.url("safetensors_interop.safetensors"))
        XCTAssertEqual(file.metadata["format"], "pt")
        let expected: [Float] = [-2, -1, 0, 1, 2, 3]
        for name in ["int8", "int16", "int32", "int64"] {
            let t = try file.tensor(name)
            XCTAssertEqual(t.dtype.description, name)
            XCTAssertEqual(t.shape, [2, 3])
            XCTAssertEqual(t.asType(.float32).toArray(Float.self), expected, name)
        }
        for name in ["float16", "bfloat16", "float32"] {
            let t = try file.tensor(name)
            XCTAssertEqual(t.dtype.description, name)
            XCTAssertEqual(t.asType(.float32).toArray(Float.self), expected.map { $0 / 4 }, name)
        }
        XCTAssertEqual(try file.tensor("uint8").asType(.float32).toArray(Float.self), [0, 1, 2, 3, 4, 5])
        XCTAssertEqual(try file.tensor("bool").toArray(Bool.self), [false, true, false, true, false, true])
        XCTAssertEqual(file.entries["float64"]?.dtype, .float64)
        XCTAssertEqual(try file.tensor("scalar").shape, [])
        XCTAssertEqual(try file.tensor("scalar").item(Float.self), 3.5)
        XCTAssertEqual(try file.tensor("empty").shape, [0, 4])
    }

    func testTruncatedFileNamesTheProblem() throws {
        let folder = try temporaryDirectory(self)
        let url = folder.appendingPathComponent("model.safetensors")
        try SafeTensors.save(["w": Tensor.ones([64, 64])], to: url)
        let data = try Data(contentsOf: url)
        try data.prefix(data.count - 100).write(to: url)
        XCTAssertThrowsError(try SafeTensors.load(url)) { error in
            let text = "\(error)"
            XCTAssert(text.contains(url.path) && text.contains("truncated") && text.contains("'w'"), text)
        }
        try data.prefix(5).write(to: url)
        XCTAssertThrowsError(try SafeTensors.load(url)) { XCTAssert("\($0)".contains("truncated"), "\($0)") }
    }

    func testCorruptHeaderIsReported() throws {
        let folder = try temporaryDirectory(self)
        let url = folder.appendingPathComponent("bad.safetensors")
        var bytes = Data([16, 0, 0, 0, 0, 0, 0, 0])
        bytes.append(contentsOf: Array("{not json at all".utf8))
        try bytes.write(to: url)
        XCTAssertThrowsError(try SafeTensors.load(url)) { XCTAssert("\($0)".contains("not valid JSON"), "\($0)") }
        // A header claiming more bytes than the file has.
        try Data([0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0x7B]).write(to: url)
        XCTAssertThrowsError(try SafeTensors.load(url)) { XCTAssert("\($0)".contains("header length"), "\($0)") }
        // A dtype/shape that disagrees with the byte range.
        let header = #"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#
        var wrong = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { wrong.append(contentsOf: $0) }
        wrong.append(contentsOf: Array(header.utf8))
        wrong.append(Data(count: 8))
        try wrong.write(to: url)
        XCTAssertThrowsError(try SafeTensors.load(url)) { XCTAssert("\($0)".contains("needs 12 bytes"), "\($0)") }
        XCTAssertThrowsError(try SafeTensors.load(folder.appendingPathComponent("absent.safetensors"))) {
            XCTAssert("\($0)".contains("not found"), "\($0)")
        }
    }

    func testShardedCheckpointWithIndex() throws {
        let folder = try temporaryDirectory(self)
        let tensors = (0..<5).reduce(into: [String: Tensor]()) { d, i in
            d["layers.\(i).weight"] = Random.normal([16, 16], key: RandomKey(seed: UInt64(i)))
        }
        // 1 KiB tensors, 2.5 KiB shards: three files and an index.
        try SafeTensorsCheckpoint.save(tensors, to: folder, name: "diffusion_pytorch_model", maxShardBytes: 2560)
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        XCTAssertEqual(
            names,
            [
                "diffusion_pytorch_model-00001-of-00003.safetensors",
                "diffusion_pytorch_model-00002-of-00003.safetensors",
                "diffusion_pytorch_model-00003-of-00003.safetensors", "diffusion_pytorch_model.safetensors.index.json"
            ])
        let checkpoint = try SafeTensorsCheckpoint(directory: folder)
        XCTAssertEqual(checkpoint.files.count, 3)
        XCTAssertEqual(checkpoint.keys, tensors.keys.sorted())
        XCTAssertEqual(checkpoint.info("layers.3.weight")?.shape, [16, 16])
        for (key, t) in tensors {
            XCTAssertEqual(try checkpoint.tensor(key).toArray(Float.self), t.toArray(Float.self))
        }
        var seen = 0
        try checkpoint.forEachShard { _, shard in seen += shard.count }
        XCTAssertEqual(seen, 5)
    }

    func testIndexPointingAtTheWrongShardIsReported() throws {
        let folder = try temporaryDirectory(self)
        try SafeTensors.save(["a": Tensor.ones([2])], to: folder.appendingPathComponent("one.safetensors"))
        let index = #"{"weight_map": {"a": "one.safetensors", "b": "one.safetensors"}}"#
        try Data(index.utf8).write(to: folder.appendingPathComponent("model.safetensors.index.json"))
        XCTAssertThrowsError(try SafeTensorsCheckpoint(directory: folder)) {
            XCTAssert("\($0)".contains("'b'") && "\($0)".contains("one.safetensors"), "\($0)")
        }
    }

    /// An interrupted save leaves the previous file untouched and no temporary file behind.
    func testFailedSaveKeepsThePreviousFile() throws {
        let folder = try temporaryDirectory(self)
        let url = folder.appendingPathComponent("ckpt.safetensors")
        try SafeTensors.save(["w": Tensor.ones([3])], to: url)
        struct Interrupted: Error {}
        XCTAssertThrowsError(
            try AtomicFile.write(to: url) { handle in
                try handle.write(contentsOf: Data([1, 2, 3]))
                throw Interrupted()
            })
        XCTAssertEqual(try SafeTensors.load(url)["w"]!.toArray(Float.self), [1, 1, 1])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["ckpt.safetensors"])
    }

    func testConfigFileErrorsNameFileAndKey() throws {
        struct Config: Decodable { let hidden_size: Int; let num_layers: Int }
        let folder = try temporaryDirectory(self)
        let url = folder.appendingPathComponent("config.json")
        try Data(#"{"hidden_size": 64, "num_layers": "two"}"#.utf8).write(to: url)
        XCTAssertThrowsError(try ConfigFile.decode(Config.self, from: url)) {
            XCTAssert("\($0)".contains(url.path) && "\($0)".contains("num_layers"), "\($0)")
        }
        try Data(#"{"hidden_size": 64}"#.utf8).write(to: url)
        XCTAssertThrowsError(try ConfigFile.decode(Config.self, from: url)) {
            XCTAssert("\($0)".contains("missing key 'num_layers'"), "\($0)")
        }
        try Data(#"{"hidden_size": 64, "num_layers": 2}"#.utf8).write(to: url)
        XCTAssertEqual(try ConfigFile.decode(Config.self, from: url).num_layers, 2)
    }
}
