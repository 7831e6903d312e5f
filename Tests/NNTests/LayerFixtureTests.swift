import Engine
import NN
import TestSupport
import XCTest

/// The cases of nn_layers.safetensors (tools/goldens/nn_layers.py): `<case>.param.<key>` is the torch state dict,
/// `<case>.x…` the inputs, `<case>.out…` the reference outputs.
enum LayerFixture {
    static let tensors: [String: Tensor] = {
        do { return try Fixture.load("nn_layers.safetensors") } catch { fatalError("nn_layers.safetensors: \(error)") }
    }()

    static func tensor(_ key: String) -> Tensor {
        guard let t = tensors[key] else { fatalError("nn_layers.safetensors has no '\(key)'") }
        return t
    }

    /// A stored boolean (saved as 0/1 float32).
    static func mask(_ key: String) -> Tensor { tensor(key) .> 0.5 }

    static func parameters(_ name: String) -> [String: Tensor] {
        let head = "\(name).param."
        return Dictionary(
            uniqueKeysWithValues: tensors.filter { $0.key.hasPrefix(head) }
                .map { (String($0.key.dropFirst(head.count)), $0.value) })
    }

    /// `module` with the case's torch parameters loaded strictly (every key present, no extra, shapes equal).
    static func load<M: Module>(_ name: String, into module: M) throws -> M {
        try module.load(parameters(name), strict: true, source: "nn_layers.safetensors[\(name)]")
        return module
    }
}

final class LayerFixtureTests: XCTestCase {
    /// The fixture's keys are torch's, so a module built with the wrong configuration must be refused, naming the
    /// key and both shapes in torch's layout.
    func testStrictLoadRefusesAWronglyConfiguredLayer() {
        let wrongKernel = Conv2d(3, 4, kernelSize: 3)
        XCTAssertThrowsError(try LayerFixture.load("conv2d", into: wrongKernel)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("weight: expected [4, 3, 3, 3], found [4, 3, 3, 2]"), text)
        }
        XCTAssertThrowsError(try LayerFixture.load("linear", into: Linear(5, 4, bias: false))) { error in
            XCTAssertTrue("\(error)".contains("unexpected keys (1): bias"), "\(error)")
        }
    }
}
