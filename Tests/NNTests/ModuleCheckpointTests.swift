import Checkpoints
import Engine
import Foundation
import NN
import TestSupport
import XCTest

private final class TwoLayer: Module {
    @Child(key: "layers") var layers: [Linear]
    init(seed: UInt64) {
        super.init()
        layers = [Linear(4, 8, key: RandomKey(seed: seed)), Linear(8, 2, key: RandomKey(seed: seed + 1))]
    }
    func callAsFunction(_ x: Tensor) -> Tensor { layers[1](silu(layers[0](x))) }
}

final class ModuleCheckpointTests: XCTestCase {
    func testSaveThenLoadReproducesTheModel() throws {
        let folder = try temporaryDirectory(self)
        let url = folder.appendingPathComponent("model.safetensors")
        let original = TwoLayer(seed: 1)
        try original.save(to: url, metadata: ["step": "10"])
        let restored = TwoLayer(seed: 99)
        try restored.load(contentsOf: url)
        let x = Random.normal([3, 4], key: RandomKey(seed: 5))
        XCTAssertEqual(restored(x).toArray(Float.self), original(x).toArray(Float.self))
        XCTAssertEqual(try SafeTensorsFile(url: url).metadata["step"], "10")
    }

    func testLoadsAShardedFolderAndCastsDType() throws {
        let folder = try temporaryDirectory(self)
        let original = TwoLayer(seed: 1)
        try SafeTensorsCheckpoint.save(original.checkpointTensors(), to: folder, maxShardBytes: 64)
        XCTAssertTrue(
            FileManager.default.fileExists(atPath: folder.appendingPathComponent("model.safetensors.index.json").path))
        let restored = TwoLayer(seed: 7)
        try restored.load(contentsOf: folder, dtype: .bfloat16)
        XCTAssertEqual(restored.layers[0].weight.dtype, .bfloat16)
        assertClose(restored.layers[0].weight, original.layers[0].weight, tolerance: 1e-2)
    }

    func testMismatchedFileIsReportedWithItsPath() throws {
        let folder = try temporaryDirectory(self)
        let url = folder.appendingPathComponent("other.safetensors")
        try SafeTensors.save(["layers.0.weight": Tensor.zeros([8, 5]), "extra": Tensor.zeros([1])], to: url)
        let model = TwoLayer(seed: 1)
        let before = model.layers[0].weight.toArray(Float.self)
        XCTAssertThrowsError(try model.load(contentsOf: url)) { error in
            let text = "\(error)"
            XCTAssert(text.contains(url.path), text)
            XCTAssert(text.contains("layers.0.weight: expected [8, 4], found [8, 5]"), text)
            XCTAssert(text.contains("layers.1.bias") && text.contains("extra"), text)
        }
        XCTAssertEqual(model.layers[0].weight.toArray(Float.self), before)
    }
}
