import Engine
import NN
import TestSupport
import XCTest

/// Linear, MLP, Sequential, ModuleList and Embedding against PyTorch (nn_layers.safetensors).
final class LayerLinearTests: XCTestCase {
    func testLinearMatchesTorch() throws {
        let layer = try LayerFixture.load("linear", into: Linear(5, 4))
        assertClose(layer(LayerFixture.tensor("linear.x")), LayerFixture.tensor("linear.out"))
        let plain = try LayerFixture.load("linear_nobias", into: Linear(5, 4, bias: false))
        assertClose(plain(LayerFixture.tensor("linear_nobias.x")), LayerFixture.tensor("linear_nobias.out"))
    }

    func testMLPMatchesTorch() throws {
        let mlp = try LayerFixture.load(
            "mlp",
            into: MLP(
                inputDimensions: 6, hiddenDimensions: 12, outputDimensions: 5,
                activation: .geluTanh))
        XCTAssertEqual(mlp.namedSlots().map(\.key), ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"])
        assertClose(mlp(LayerFixture.tensor("mlp.x")), LayerFixture.tensor("mlp.out"))
    }

    /// Parameter-free layers keep their index, so the keys are torch's `0.*` and `3.*`.
    func testSequentialKeysAndOutputMatchTorch() throws {
        let model = Sequential(Linear(4, 8), SiLU(), Dropout(0), Linear(8, 3))
        XCTAssertEqual(model.namedSlots().map(\.key), ["0.weight", "0.bias", "3.weight", "3.bias"])
        _ = try LayerFixture.load("sequential", into: model)
        assertClose(model(LayerFixture.tensor("sequential.x")), LayerFixture.tensor("sequential.out"))
    }

    func testModuleListIsKeyedByIndexUnderItsOwner() {
        final class Owner: Module {
            @Child(key: "to_out") var toOut: ModuleList
            override init() {
                super.init()
                toOut = ModuleList([Linear(2, 2), Dropout(0)])
                toOut.append(Linear(2, 1, bias: false))
            }
        }
        XCTAssertEqual(Owner().namedSlots().map(\.key), ["to_out.0.weight", "to_out.0.bias", "to_out.2.weight"])
    }

    func testEmbeddingMatchesTorch() throws {
        let table = try LayerFixture.load("embedding", into: Embedding(10, 4))
        let indices = LayerFixture.tensor("embedding.x")
        XCTAssertEqual(indices.dtype, .int32)
        let out = table(indices)
        XCTAssertEqual(out.shape, [2, 3, 4])
        assertClose(out, LayerFixture.tensor("embedding.out"), tolerance: 0)
        assertClose(table.asLinear(out), out.matmul(table.weight.T), tolerance: 0)
    }
}
