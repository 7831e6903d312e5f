import Checkpoints
import Engine
import Foundation
import NN
import TestSupport
import XCTest

/// A two-block model with diffusers' attention key names, for targeting by name.
private final class TinyTransformer: Module {
    @Child(key: "transformer_blocks") var blocks: [Block]
    let proj_out: Linear

    final class Block: Module {
        let attn: MultiHeadAttention
        let ff: MLP
        init(key: RandomKey) {
            let keys = key.split(into: 2)
            attn = MultiHeadAttention(queryDimensions: 8, heads: 2, headDimensions: 4, qkNorm: .rmsNorm(), key: keys[0])
            ff = MLP(inputDimensions: 8, hiddenDimensions: 16, key: keys[1])
            super.init()
        }
        func callAsFunction(_ x: Tensor) -> Tensor {
            let h = x + attn(x)
            return h + ff(h)
        }
    }

    init(seed: UInt64 = 1) {
        let keys = RandomKey(seed: seed).split(into: 3)
        proj_out = Linear(8, 3, key: keys[2])
        super.init()
        blocks = [Block(key: keys[0]), Block(key: keys[1])]
    }

    func callAsFunction(_ x: Tensor) -> Tensor { proj_out(blocks.reduce(x) { $1($0) }) }
}

final class LoRATests: XCTestCase {
    private let attentionTargets = LoRAConfig(rank: 4, alpha: 8, targetModules: ["to_q", "to_k", "to_v", "to_out.0"])
    private let input = Random.normal([2, 5, 8], key: RandomKey(seed: 9))

    /// Gives every lora_B random values: a fresh adapter is zero, which would hide mistakes.
    private func perturbAdapters(_ model: Module, seed: UInt64 = 5) {
        for (i, (_, layer)) in model.loraLayers().enumerated() {
            let b = layer.lora!.up.weight
            layer.lora!.up.weight = Random.normal(b.shape, key: RandomKey(seed: seed + UInt64(i))) * 0.3
        }
    }

    // MARK: - Parity

    /// A LoRA Linear loaded from PEFT-layout keys reproduces `W x + b + alpha/r · B A x` computed in torch, merged
    /// or not.
    func testLoRALinearMatchesPEFTMath() throws {
        let layer = Linear(6, 5)
        layer.attachLoRA(rank: 3, alpha: 6, key: RandomKey(seed: 1))
        XCTAssertEqual(layer.namedSlots().map(\.key), ["weight", "bias", "lora_A.weight", "lora_B.weight"])
        _ = try LayerFixture.load("lora", into: layer)
        XCTAssertEqual(layer.lora?.scale, 2)
        let x = LayerFixture.tensor("lora.x"), expected = LayerFixture.tensor("lora.out")
        assertClose(layer(x), expected)
        layer.mergeLoRA()
        XCTAssertEqual(layer.lora?.isMerged, true)
        assertClose(layer(x), expected)
        layer.unmergeLoRA()
        assertClose(layer.weight, LayerFixture.tensor("lora.param.weight"), tolerance: 1e-6)
        assertClose(layer(x), expected)
    }

    // MARK: - Targeting and freezing

    func testAddLoRATargetsByNameAndFreezesTheBase() throws {
        let model = TinyTransformer()
        let before = model(input)
        let adapted = try model.addLoRA(attentionTargets, key: RandomKey(seed: 2))
        XCTAssertEqual(
            adapted,
            [
                "transformer_blocks.0.attn.to_q", "transformer_blocks.0.attn.to_k",
                "transformer_blocks.0.attn.to_v", "transformer_blocks.0.attn.to_out.0",
                "transformer_blocks.1.attn.to_q", "transformer_blocks.1.attn.to_k",
                "transformer_blocks.1.attn.to_v", "transformer_blocks.1.attn.to_out.0"
            ])
        let trainable = model.trainableParameters().map(\.key)
        XCTAssertEqual(trainable.count, 16)
        XCTAssertTrue(
            trainable.allSatisfy { $0.hasSuffix(".lora_A.weight") || $0.hasSuffix(".lora_B.weight") }, "\(trainable)")
        XCTAssertTrue(trainable.contains("transformer_blocks.1.attn.to_out.0.lora_B.weight"))
        XCTAssertEqual(model.parameterCount(trainableOnly: true), 2 * 4 * (4 * 8 + 8 * 4))
        // lora_B starts at zero: the model's output is unchanged; lora_A is PEFT's uniform ±1/sqrt(in).
        assertClose(model(input), before, tolerance: 0)
        let a = model.loraLayers()[0].layer.lora!.down.weight
        XCTAssertLessThanOrEqual(a.abs().max().item(Float.self), 1 / Float(8).squareRoot())
        XCTAssertGreaterThan(a.abs().max().item(Float.self), 0.2)
        // Gradients reach the adapters only.
        let (_, gradients) = valueAndGrad(model: model) { [model(self.input).square().sum()] }
        XCTAssertEqual(Set(gradients.keys), Set(trainable))
    }

    func testRegexTargetsAndUnmatchedTargetsError() throws {
        let model = TinyTransformer()
        let config = LoRAConfig(rank: 2, alpha: 2, targetModules: [], targetRegex: #".*\.ff\.fc[12]"#)
        XCTAssertEqual(try model.addLoRA(config, key: RandomKey(seed: 1)).count, 4)
        XCTAssertThrowsError(
            try TinyTransformer().addLoRA(
                LoRAConfig(rank: 2, alpha: 2, targetModules: ["to_qkv"]),
                key: RandomKey(seed: 1))
        ) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("[\"to_qkv\"] match no Linear layer"), text)
            XCTAssertTrue(text.contains("transformer_blocks.0.attn.to_q"), text)
        }
    }

    func testRankAndAlphaPatterns() throws {
        let model = TinyTransformer()
        var config = attentionTargets
        config.rankPattern = ["to_out.0": 2, "transformer_blocks.1.attn.to_out.0": 1]
        config.alphaPattern = ["to_q": 2]
        try model.addLoRA(config, key: RandomKey(seed: 1))
        let layers = Dictionary(uniqueKeysWithValues: model.loraLayers().map { ($0.name, $0.layer.lora!) })
        XCTAssertEqual(layers["transformer_blocks.0.attn.to_out.0"]?.rank, 2)
        XCTAssertEqual(layers["transformer_blocks.1.attn.to_out.0"]?.rank, 1, "the longer pattern wins")
        XCTAssertEqual(layers["transformer_blocks.0.attn.to_q"]?.scale, 0.5)
        XCTAssertEqual(layers["transformer_blocks.0.attn.to_k"]?.scale, 2)
    }

    // MARK: - Merge

    func testMergedAndUnmergedForwardAgree() throws {
        let model = TinyTransformer()
        let base = model(input)
        try model.addLoRA(attentionTargets, key: RandomKey(seed: 2))
        perturbAdapters(model)
        let unmerged = model(input)
        XCTAssertGreaterThan(maxAbsDifference(unmerged, base), 1e-2, "the adapters must change the output")
        model.mergeLoRA()
        let merged = model(input)
        assertClose(merged, unmerged, tolerance: 1e-5)
        model.mergeLoRA()  // merging twice is a no-op
        assertClose(model(input), unmerged, tolerance: 1e-5)
        model.unmergeLoRA()
        assertClose(model(input), unmerged, tolerance: 1e-5)
        model.removeLoRA()
        assertClose(model(input), base, tolerance: 1e-5)
        XCTAssertTrue(model.loraLayers().isEmpty)
    }

    // MARK: - Adapter files

    func testAdapterFileRoundTrip() throws {
        let folder = try temporaryDirectory(self)
        let url = folder.appendingPathComponent("adapter_model.safetensors")
        let trained = TinyTransformer()
        try trained.addLoRA(attentionTargets, key: RandomKey(seed: 2))
        perturbAdapters(trained)
        let expected = trained(input)
        try trained.saveLoRA(to: url, writeAdapterConfig: true)

        // Only adapter tensors, in PEFT's layout.
        let (tensors, metadata) = try SafeTensors.loadWithMetadata(url)
        XCTAssertEqual(tensors.count, 16)
        XCTAssertEqual(tensors["transformer_blocks.0.attn.to_q.lora_A.weight"]?.shape, [4, 8])
        XCTAssertEqual(tensors["transformer_blocks.1.attn.to_out.0.lora_B.weight"]?.shape, [8, 4])
        let config = try JSONSerialization.jsonObject(with: Data(metadata[loraMetadataKey]!.utf8)) as! [String: Any]
        XCTAssertEqual(config["r"] as? Int, 4)
        XCTAssertEqual(config["lora_alpha"] as? Double, 8)
        XCTAssertEqual((config["target_modules"] as? [String])?.count, 8)
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("adapter_config.json").path))

        // A fresh model with the same base weights and no adapters reproduces the outputs after loading.
        let fresh = TinyTransformer()
        let loaded = try fresh.loadLoRA(from: url)
        XCTAssertEqual(loaded.rank, 4)
        XCTAssertEqual(loaded.alpha, 8)
        assertClose(fresh(input), expected, tolerance: 1e-6)
        XCTAssertEqual(Set(fresh.trainableParameters().map(\.key)), Set(tensors.keys))
        // Saving again gives the same tensors.
        for (key, value) in fresh.loraTensors() { XCTAssertEqual(maxAbsDifference(value, tensors[key]!), 0, key) }
    }

    /// diffusers' pipeline-level files prefix tensor keys and config keys with the component name; the prefix is
    /// found without being told. Without metadata, an adapter_config.json beside the file gives alpha.
    func testPrefixedFileAndConfigBesideTheFile() throws {
        let folder = try temporaryDirectory(self)
        let trained = TinyTransformer()
        var config = attentionTargets
        config.alpha = 2
        try trained.addLoRA(config, key: RandomKey(seed: 2))
        perturbAdapters(trained)
        let expected = trained(input)

        let prefixed = folder.appendingPathComponent("pytorch_lora_weights.safetensors")
        try trained.saveLoRA(to: prefixed, prefix: "transformer")
        let (tensors, metadata) = try SafeTensors.loadWithMetadata(prefixed)
        XCTAssertNotNil(tensors["transformer.transformer_blocks.0.attn.to_q.lora_A.weight"])
        XCTAssertTrue(metadata[loraMetadataKey]!.contains("\"transformer.lora_alpha\""))
        let fresh = TinyTransformer()
        XCTAssertEqual(try fresh.loadLoRA(from: prefixed).alpha, 2)
        assertClose(fresh(input), expected, tolerance: 1e-6)

        // The same tensors with the configuration only in adapter_config.json (PEFT's folder layout).
        let peftFolder = folder.appendingPathComponent("peft")
        try FileManager.default.createDirectory(at: peftFolder, withIntermediateDirectories: true)
        let bare = peftFolder.appendingPathComponent("adapter_model.safetensors")
        let renamed = Dictionary(
            uniqueKeysWithValues: trained.loraTensors().map { ("base_model.model.\($0.key)", $0.value) })
        try SafeTensors.save(renamed, to: bare)
        try Data(trained.currentLoRAConfig()!.jsonString().utf8).write(
            to: peftFolder.appendingPathComponent("adapter_config.json"))
        let peft = TinyTransformer()
        XCTAssertEqual(try peft.loadLoRA(from: bare).alpha, 2)
        assertClose(peft(input), expected, tolerance: 1e-6)
    }

    func testLoadingIntoAMergedModelKeepsItMerged() throws {
        let folder = try temporaryDirectory(self)
        let url = folder.appendingPathComponent("a.safetensors")
        let trained = TinyTransformer()
        try trained.addLoRA(attentionTargets, key: RandomKey(seed: 2))
        perturbAdapters(trained, seed: 20)
        let expected = trained(input)
        try trained.saveLoRA(to: url)

        let other = TinyTransformer()
        try other.addLoRA(attentionTargets, key: RandomKey(seed: 3))
        perturbAdapters(other, seed: 40)
        other.mergeLoRA()
        try other.loadLoRA(from: url)
        XCTAssertTrue(other.loraLayers().allSatisfy { $0.layer.lora!.isMerged })
        assertClose(other(input), expected, tolerance: 1e-5)
    }

    func testBadAdapterFilesAreRefusedWithoutChangingTheModel() throws {
        let model = TinyTransformer()
        let good = TinyTransformer()
        try good.addLoRA(attentionTargets, key: RandomKey(seed: 2))
        let tensors = good.loraTensors()

        func expectError(_ tensors: [String: Tensor], _ fragment: String, line: UInt = #line) {
            XCTAssertThrowsError(try model.loadLoRA(tensors, configObject: nil, source: "bad.safetensors"), line: line)
            { error in
                XCTAssertTrue("\(error)".contains(fragment), "\(error)", line: line)
                XCTAssertTrue("\(error)".contains("bad.safetensors"), "\(error)", line: line)
            }
            XCTAssertTrue(model.loraLayers().isEmpty, "nothing attached after a failed load", line: line)
        }
        var unknown = tensors
        unknown["transformer_blocks.0.attn.to_qkv.lora_A.weight"] = Tensor.zeros([4, 8])
        unknown["transformer_blocks.0.attn.to_qkv.lora_B.weight"] = Tensor.zeros([24, 4])
        expectError(unknown, "transformer_blocks.0.attn.to_qkv")
        var wrongShape = tensors
        wrongShape["transformer_blocks.1.attn.to_v.lora_A.weight"] = Tensor.zeros([4, 7])
        expectError(wrongShape, "transformer_blocks.1.attn.to_v: lora_A [4, 7]")
        var unpaired = tensors
        unpaired.removeValue(forKey: "transformer_blocks.0.attn.to_k.lora_B.weight")
        expectError(unpaired, "only one of lora_A/lora_B: transformer_blocks.0.attn.to_k")
        var foreign = tensors
        foreign["transformer_blocks.0.attn.to_k.lora_down.weight"] = Tensor.zeros([4, 8])
        expectError(foreign, "not PEFT LoRA tensors")
        XCTAssertThrowsError(try model.loadLoRA(tensors, configObject: ["r": 4, "use_dora": true])) { error in
            XCTAssertTrue("\(error)".contains("use_dora"), "\(error)")
        }
    }

    func testConfigJSONRoundTrip() throws {
        let config = LoRAConfig(
            rank: 8, alpha: 16, targetModules: ["to_k", "to_q"], rankPattern: ["to_q": 4],
            alphaPattern: ["to_k": 4])
        let object = try JSONSerialization.jsonObject(with: Data(config.jsonString().utf8)) as! [String: Any]
        XCTAssertEqual(object["peft_type"] as? String, "LORA")
        XCTAssertEqual(try LoRAConfig(jsonObject: object, source: "adapter_config.json"), config)
        XCTAssertTrue(config.targets("transformer_blocks.0.attn.to_k"))
        XCTAssertFalse(config.targets("transformer_blocks.0.attn.add_k_proj"))
        XCTAssertFalse(config.targets("transformer_blocks.0.attn.to_kv"))
    }
}
