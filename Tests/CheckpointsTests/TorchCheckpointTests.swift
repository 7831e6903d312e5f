import Checkpoints
import Engine
import Foundation
import TestSupport
import XCTest

// Goldens: tools/goldens/torch_checkpoints.py writes the torch.save files under Fixtures/torch_checkpoints/ and the
// tensors they must yield (contiguous) in expected.safetensors, keys `<fixture stem>/<key>`; values compare bit for
// bit.
final class TorchCheckpointTests: XCTestCase {
    private static let folder = "torch_checkpoints"
    private var goldens: SafeTensorsFile!

    override func setUpWithError() throws {
        goldens = try SafeTensorsFile(url: Fixture.url("\(Self.folder)/expected.safetensors"))
    }

    private func url(_ name: String) -> URL { Fixture.url("\(Self.folder)/\(name)") }

    /// Every tensor of `file` equals `expected.safetensors`' `<stem>/<key>` in dtype, shape and bytes, read one by
    /// one and all at once.
    private func assertMatchesExpected(_ file: TorchCheckpointFile, stem: String, line: UInt = #line) throws {
        let expectedKeys = goldens!.keys.filter { $0.hasPrefix("\(stem)/") }.map {
            String($0.dropFirst(stem.count + 1))
        }
        XCTAssertEqual(file.keys, expectedKeys.sorted(), line: line)
        let all = try file.stateDict()
        XCTAssertEqual(Set(all.keys), Set(expectedKeys), line: line)
        for key in expectedKeys {
            let expected = try goldens!.tensor("\(stem)/\(key)")
            for (how, actual) in [("tensor(_:)", try file.tensor(key)), ("stateDict()", all[key]!)] {
                XCTAssertEqual(actual.dtype, expected.dtype, "\(stem)/\(key) \(how)", line: line)
                XCTAssertEqual(actual.shape, expected.shape, "\(stem)/\(key) \(how)", line: line)
                XCTAssertEqual(actual.bytes(), expected.bytes(), "\(stem)/\(key) \(how)", line: line)
            }
            XCTAssertEqual(file.dtypeAndShape(key)?.dtype, expected.dtype, line: line)
            XCTAssertEqual(file.dtypeAndShape(key)?.shape, expected.shape, line: line)
        }
    }

    private func assertThrows(_ body: @autoclosure () throws -> Any, containing parts: [String], line: UInt = #line) {
        XCTAssertThrowsError(try body(), line: line) { error in
            let text = "\(error)"
            for part in parts { XCTAssert(text.contains(part), "'\(part)' missing from: \(text)", line: line) }
        }
    }

    // MARK: - Reading

    func testEveryDTypeIsBitIdentical() throws {
        let file = try TorchCheckpointFile(path: url("dtypes.pt"))
        XCTAssertEqual(file.format, .zip)
        try assertMatchesExpected(file, stem: "dtypes")
        XCTAssertEqual(try file.tensor("scalar").shape, [])
        XCTAssertEqual(try file.tensor("empty").shape, [0, 4])
        XCTAssertEqual(try file.tensor("bf16").dtype, .bfloat16)
    }

    /// One storage under several tensors: offsets, a transpose, slices, strides, an expand (stride 0).
    func testSharedStoragesAndStridedViews() throws {
        let file = try TorchCheckpointFile(path: url("views.pt"))
        try assertMatchesExpected(file, stem: "views")
        XCTAssertEqual(try file.tensor("transposed").shape, [8, 6])
        XCTAssertEqual(try file.tensor("row").toArray(Float.self), (16..<24).map { Float($0) * 0.5 - 3 })
    }

    func testProtocol4Pickle() throws {
        // FRAME, SHORT_BINUNICODE, MEMOIZE and STACK_GLOBAL instead of protocol 2's opcodes; same tensors.
        try assertMatchesExpected(try TorchCheckpointFile(path: url("protocol4.pt")), stem: "dtypes")
    }

    func testLegacyFormat() throws {
        let file = try TorchCheckpointFile(path: url("legacy.pt"))
        XCTAssertEqual(file.format, .legacy)
        try assertMatchesExpected(file, stem: "legacy")
    }

    /// zip64 extra fields and end records (what archives past 4 GiB carry), here on a small file.
    func testZip64Archive() throws {
        try assertMatchesExpected(try TorchCheckpointFile(path: url("zip64.pt")), stem: "views")
    }

    /// `{'state_dict': {'module.…': …}, 'epoch': 3, …}`: the wrapper is unwrapped, DataParallel's prefix removed,
    /// the other entries skipped and listed.
    func testTrainingCheckpointIsUnwrapped() throws {
        let file = try TorchCheckpointFile(path: url("nested.ckpt"))
        try assertMatchesExpected(file, stem: "nested")
        XCTAssertEqual(file.skippedKeys, goldens!.metadata["nested_skipped"]!.split(separator: ",").map(String.init))
        let chosen = try TorchCheckpointFile(path: url("nested.ckpt"), stateDictKey: "state_dict")
        XCTAssertEqual(chosen.keys, file.keys)
        assertThrows(
            try TorchCheckpointFile(path: url("nested.ckpt"), stateDictKey: "ema"),
            containing: ["nested.ckpt", "no entry 'ema'", "'state_dict'", "'epoch'"])
    }

    // MARK: - Refusals

    /// data.pkl calls `os.system("touch <marker>")` through `__reduce__`: refused at its GLOBAL, nothing runs.
    func testMaliciousSystemCallIsRefused() throws {
        let marker = goldens!.metadata["system_marker"]!
        let raw = try Data(contentsOf: url("malicious_system.pt"))
        XCTAssertNotNil(raw.range(of: Data("touch \(marker)".utf8)), "the fixture must carry the payload")
        assertThrows(
            try TorchCheckpointFile(path: url("malicious_system.pt")),
            containing: ["malicious_system.pt", "refused global", "posix.system", "data.pkl byte"])
        assertThrows(try openCheckpoint(path: url("malicious_system.pt")), containing: ["posix.system"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker))
    }

    /// Protocol 4: `builtins.eval` reached through STACK_GLOBAL.
    func testMaliciousEvalIsRefused() throws {
        let marker = goldens!.metadata["eval_marker"]!
        assertThrows(
            try TorchCheckpointFile(path: url("malicious_eval.pt")),
            containing: ["malicious_eval.pt", "refused global 'builtins.eval'", "STACK_GLOBAL"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker))
    }

    func testBigEndianArchiveIsRefused() throws {
        assertThrows(
            try TorchCheckpointFile(path: url("big_endian.pt")), containing: ["big_endian.pt", "byteorder is 'big'"])
    }

    func testCompressedEntryIsRefused() throws {
        assertThrows(
            try TorchCheckpointFile(path: url("deflated.pt")), containing: ["deflated.pt", "is compressed (deflate)"])
    }

    /// Storage "0" (f32 [3, 4]: 48 bytes) was cut to 20 bytes.
    func testTruncatedStorageNamesTheStorage() throws {
        let file = try TorchCheckpointFile(path: url("truncated_storage.pt"))
        assertThrows(
            try file.tensor("f32"),
            containing: ["storage '0' of truncated_storage.pt: expected 48 bytes (12 × float32), found 20"])
        assertThrows(try file.stateDict(), containing: ["expected 48 bytes"])
        XCTAssertEqual(try file.tensor("f64").bytes(), try goldens!.tensor("dtypes/f64").bytes())
    }

    func testUnknownOpcodeAndTruncatedPickleAreRefusedWithTheirOffset() throws {
        let folder = try temporaryDirectory(self)
        let bad = folder.appendingPathComponent("bad.pt")
        // PROTO 2, then 0xff: no such opcode.
        try Data([0x80, 0x02, 0xff]).write(to: bad)
        assertThrows(try TorchCheckpointFile(path: bad), containing: ["bad.pt", "byte 2", "0xff"])
        // INST instantiates classes: refused by name.
        try Data([0x80, 0x02, 0x69] + Array("os\nsystem\n".utf8)).write(to: bad)
        assertThrows(try TorchCheckpointFile(path: bad), containing: ["refused opcode INST"])
        // A zip whose data.pkl is cut short.
        let zip = try Data(contentsOf: url("dtypes.pt"))
        try zip.prefix(zip.count / 2).write(to: bad)
        assertThrows(try TorchCheckpointFile(path: bad), containing: ["bad.pt", "end-of-central-directory"])
    }

    /// Hostile structure, not code: 300,000 nested tuples (one byte each; releasing them recursively overflows the
    /// stack) and a dict that contains itself must end in an error or a result, not a crash, a hang or a leak.
    func testDeepAndCyclicPicklesNeitherCrashNorHang() throws {
        let folder = try temporaryDirectory(self)
        // Legacy layout: magic number, protocol 1001, sys_info {}, the object, storage keys [].
        let magic: [UInt8] = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]
        let header = magic + [0x80, 0x02, 0x4d, 0xe9, 0x03, 0x2e] + [0x80, 0x02, 0x7d, 0x2e]
        // {'self': <the dict itself>}: EMPTY_DICT, BINPUT 0, BINUNICODE 'self', BINGET 0, SETITEM, STOP.
        let cyclic: [UInt8] =
            [0x80, 0x02, 0x7d, 0x71, 0x00, 0x58, 0x04, 0x00, 0x00, 0x00] + Array("self".utf8) + [0x68, 0x00, 0x73, 0x2e]
        let url = folder.appendingPathComponent("cyclic.pt")
        try Data(header + cyclic + [0x80, 0x02, 0x5d, 0x2e]).write(to: url)
        let file = try TorchCheckpointFile(path: url)
        XCTAssertEqual(file.keys, [])
        XCTAssertEqual(file.skippedKeys, ["self"])
        // The object pickle nested 300,000 deep.
        let nested = [0x80, 0x02, 0x29] + [UInt8](repeating: 0x85, count: 300_000) + [0x2e]
        try Data(header + nested + [0x80, 0x02, 0x5d, 0x2e]).write(to: url)
        assertThrows(try TorchCheckpointFile(path: url), containing: ["cyclic.pt", "not a state dict"])
    }

    // MARK: - One entry point for every format

    /// transformers' sharded layout: `pytorch_model-0000k-of-0000n.bin` files and `pytorch_model.bin.index.json`.
    func testShardedTorchCheckpoint() throws {
        let folder = url("sharded")
        let expectedKeys = goldens!.keys.filter { $0.hasPrefix("sharded/") }.map {
            String($0.dropFirst("sharded/".count))
        }.sorted()
        for source in [
            try openCheckpoint(path: folder),
            try openCheckpoint(path: folder.appendingPathComponent("pytorch_model.bin.index.json"))
        ] {
            XCTAssert(source is ShardedTorchCheckpoint)
            XCTAssertEqual(source.keys, expectedKeys)
            let all = try source.tensors()
            for key in expectedKeys {
                let expected = try goldens!.tensor("sharded/\(key)")
                XCTAssertEqual(try source.tensor(key).bytes(), expected.bytes(), key)
                XCTAssertEqual(all[key]?.bytes(), expected.bytes(), key)
                XCTAssertEqual(source.dtypeAndShape(key)?.shape, expected.shape, key)
            }
        }
        // An index naming a key its shard lacks.
        let copy = try temporaryDirectory(self).appendingPathComponent("sharded")
        try FileManager.default.copyItem(at: folder, to: copy)
        let index = copy.appendingPathComponent("pytorch_model.bin.index.json")
        let text = try String(contentsOf: index, encoding: .utf8).replacingOccurrences(
            of: "\"head.bias\"", with: "\"head.scale\"")
        try text.write(to: index, atomically: true, encoding: .utf8)
        assertThrows(
            try openCheckpoint(path: copy),
            containing: ["pytorch_model.bin.index.json", "'head.scale'", "does not contain it"])
    }

    func testOpenCheckpointChoosesTheReaderByContent() throws {
        let folder = try temporaryDirectory(self)
        XCTAssert(try openCheckpoint(path: url("linear.bin")) is TorchCheckpointFile)
        XCTAssert(try openCheckpoint(path: url("expected.safetensors")) is SafeTensorsCheckpoint)
        // The extension does not matter.
        let renamed = folder.appendingPathComponent("weights.data")
        try FileManager.default.copyItem(at: url("legacy.pt"), to: renamed)
        let legacy = try openCheckpoint(path: renamed)
        XCTAssertEqual(legacy.keys, try TorchCheckpointFile(path: url("legacy.pt")).keys)
        // A safetensors file whose 8-byte header length starts like a pickle (0x80 0x02) is still safetensors.
        let odd = folder.appendingPathComponent("odd.safetensors")
        var header = Data("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}".utf8)
        while header.count < 0x280 { header.append(UInt8(ascii: " ")) }
        var length = UInt64(header.count).littleEndian
        try (Data(bytes: &length, count: 8) + header + Data(count: 4)).write(to: odd)
        XCTAssert(try openCheckpoint(path: odd) is SafeTensorsCheckpoint)
        // A folder holding one PyTorch file and no safetensors.
        let download = folder.appendingPathComponent("download")
        try FileManager.default.createDirectory(at: download, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            at: url("linear.bin"), to: download.appendingPathComponent("pytorch_model.bin"))
        let source = try openCheckpoint(path: download)
        XCTAssertEqual(source.keys, ["bias", "weight"])
        XCTAssertEqual(try source.tensor("weight").bytes(), try goldens!.tensor("linear/weight").bytes())
    }
}
