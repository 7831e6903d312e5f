import Checkpoints
import Engine
import Foundation
import NN
import TestSupport
import XCTest

/// A module whose weights are filled a piece at a time while it is saved writes the file a whole save writes (the
/// convolution's weight in checkpoint layout, frozen tensors included), and holds each piece only while writing it.
final class PiecewiseSaveTests: XCTestCase {
    final class Net: Module {
        let conv = Conv2d(3, 4, kernelSize: 3, key: RandomKey(seed: 1))
        let head = Linear(4, 2, key: RandomKey(seed: 2))
        let frozen = Linear(2, 2, key: RandomKey(seed: 3))
    }

    /// Keeps the trainable tensors aside and fills them back piece by piece, recording which pieces were held at once.
    final class Pieces: PiecewiseWeights {
        let net: Net
        let stored: [String: Tensor]
        var filled = Set<Int>()
        var mostAtOnce = 0
        let pieceKeys = [["conv.bias", "conv.weight"], ["head.bias", "head.weight"]]

        init(_ net: Net) {
            self.net = net
            stored = Dictionary(uniqueKeysWithValues: net.trainableParameters().map { ($0.key, $0.value) })
            for (key, slot) in net.namedSlots() where stored[key] != nil { slot.value = nil }
        }

        var pieceLayout: [String: (shape: [Int], dtype: DType)] { stored.mapValues { ($0.shape, $0.dtype) } }

        func fill(piece index: Int) throws {
            let slots = Dictionary(uniqueKeysWithValues: allSlots())
            for key in pieceKeys[index] { slots[key]!.value = stored[key] }
            filled.insert(index)
            mostAtOnce = max(mostAtOnce, filled.count)
        }

        func empty(piece index: Int) {
            let slots = Dictionary(uniqueKeysWithValues: allSlots())
            for key in pieceKeys[index] { slots[key]!.value = nil }
            filled.remove(index)
        }

        /// Every slot, empty ones included (namedSlots skips those).
        private func allSlots() -> [(String, ParameterSlot)] {
            net.namedModules().flatMap { prefix, module in
                module.ownSlots().map { ((prefix.isEmpty ? "" : prefix + ".") + $0.key, $0.slot) }
            }
        }
    }

    func testPiecewiseSaveWritesTheWholeSavesFile() throws {
        let folder = try temporaryDirectory(self)
        let net = Net()
        net.frozen.freeze()
        let whole = folder.appendingPathComponent("whole.safetensors")
        try net.save(to: whole, metadata: ["format": "pt"])
        let pieces = Pieces(net)
        XCTAssertNil(net.parameters()["conv.weight"], "the trained tensors are put aside")
        net.piecewiseWeights = pieces
        defer { net.piecewiseWeights = nil }
        let piecewise = folder.appendingPathComponent("piecewise.safetensors")
        try net.save(to: piecewise, metadata: ["format": "pt"])
        XCTAssertEqual(pieces.mostAtOnce, 1, "one piece at a time")
        XCTAssertTrue(pieces.filled.isEmpty)
        let (expected, expectedMetadata) = try SafeTensors.loadWithMetadata(whole)
        let (found, foundMetadata) = try SafeTensors.loadWithMetadata(piecewise)
        XCTAssertEqual(foundMetadata, expectedMetadata)
        XCTAssertEqual(Set(found.keys), Set(expected.keys))
        XCTAssertEqual(found["conv.weight"]?.shape, [4, 3, 3, 3], "PyTorch's layout")
        for (key, tensor) in expected {
            XCTAssertEqual(found[key]!.shape, tensor.shape, key)
            XCTAssertEqual(found[key]!.toArray(Float.self), tensor.toArray(Float.self), key)
        }
    }
}
