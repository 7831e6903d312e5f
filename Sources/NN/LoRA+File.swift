import Checkpoints
import Foundation
import Engine

// Adapter files in the PEFT / diffusers layout: only the adapter tensors, keyed `[<prefix>.]<layer>.lora_A.weight`
// ([rank, in]) and `…lora_B.weight` ([out, rank]). The configuration (rank, alpha, targets) travels in the
// safetensors metadata under `lora_adapter_metadata`, as diffusers writes it, and optionally in PEFT's
// `adapter_config.json` beside the file. A prefix names the pipeline component (`transformer`, `unet`), as in
// diffusers' pipeline-level files, whose metadata keys carry the same prefix (`transformer.r`).

/// The safetensors metadata key under which diffusers stores the adapter configuration as JSON.
public let loraMetadataKey = "lora_adapter_metadata"

extension Module {
    /// The adapter tensors in file layout (see above), by key.
    public func loraTensors(prefix: String = "") -> [String: Tensor] {
        let head = prefix.isEmpty ? "" : prefix + "."
        var result: [String: Tensor] = [:]
        for (name, layer) in loraLayers() {
            result["\(head)\(name).lora_A.weight"] = layer.lora!.down.weight
            result["\(head)\(name).lora_B.weight"] = layer.lora!.up.weight
        }
        return result
    }

    /// Writes the adapters alone (not the base weights) to a safetensors file, with their configuration in the
    /// metadata; `writeAdapterConfig` also writes PEFT's `adapter_config.json` into the same folder.
    public func saveLoRA(to url: URL, prefix: String = "", writeAdapterConfig: Bool = false) throws {
        guard let config = currentLoRAConfig() else {
            throw LoRAFileError.noAdapterToSave(file: url.path)
        }
        var object = config.jsonObject
        if !prefix.isEmpty {
            object = Dictionary(uniqueKeysWithValues: object.map { ("\(prefix).\($0.key)", $0.value) })
        }
        let json = String(
            decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
        try SafeTensors.save(loraTensors(prefix: prefix), metadata: ["format": "pt", loraMetadataKey: json], to: url)
        if writeAdapterConfig {
            let configURL = url.deletingLastPathComponent().appendingPathComponent("adapter_config.json")
            try AtomicFile.write(Data(config.jsonString().utf8), to: configURL)
        }
    }

    /// Loads an adapter file written by ``saveLoRA(to:prefix:writeAdapterConfig:)``, PEFT or diffusers: attaches an
    /// adapter of the file's rank to every layer it names (replacing existing ones; merged layers are re-merged),
    /// then leaves only the adapters trainable. The configuration comes from the metadata, else from an
    /// `adapter_config.json` beside the file, else alpha = rank. `prefix` nil finds the component prefix itself.
    /// Nothing changes unless every key fits the model.
    @discardableResult
    public func loadLoRA(from url: URL, prefix: String? = nil, dtype: DType? = nil) throws -> LoRAConfig {
        let (tensors, metadata) = try SafeTensors.loadWithMetadata(url)
        var object: [String: Any]?
        if let json = metadata[loraMetadataKey] {
            guard let parsed = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
                throw LoRAFileError.metadataNotJSONObject(file: url.path, key: loraMetadataKey)
            }
            object = parsed
        } else {
            let sibling = url.deletingLastPathComponent().appendingPathComponent("adapter_config.json")
            if FileManager.default.fileExists(atPath: sibling.path) { object = try ConfigFile.object(from: sibling) }
        }
        return try loadLoRA(tensors, configObject: object, prefix: prefix, dtype: dtype, source: url.path)
    }

    /// ``loadLoRA(from:prefix:dtype:)`` on tensors already in memory; `configObject` is PEFT's config as JSON.
    @discardableResult
    public func loadLoRA(
        _ tensors: [String: Tensor], configObject: [String: Any]?, prefix: String? = nil,
        dtype: DType? = nil, source: String = "adapter"
    ) throws -> LoRAConfig {
        let pairs = try LoRAKeyPairs(tensors, source: source)
        let layers = Dictionary(uniqueKeysWithValues: linearLayers().map { ($0.name, $0.layer) })
        let head = try LoRAKeyPairs.resolvePrefix(
            prefix, names: Array(pairs.byName.keys), layers: layers, source: source)

        var config: LoRAConfig?
        if let object = configObject {
            config = try LoRAConfig(jsonObject: LoRAKeyPairs.unpack(object, prefix: head), source: source)
        }
        // Check everything before changing anything.
        var plan: [(layer: Linear, down: Tensor, up: Tensor, alpha: Float)] = []
        var problems: [String] = []
        for (fileName, pair) in pairs.byName.sorted(by: { $0.key < $1.key }) {
            let name = String(fileName.dropFirst(head.count))
            let layer = layers[name]!
            let (down, up) = (pair.down, pair.up)
            let rank = down.dim(0)
            if down.shape != [rank, layer.inputFeatures] || up.shape != [layer.outputFeatures, rank] {
                problems.append(
                    "\(fileName): lora_A \(down.shape) and lora_B \(up.shape) do not fit a Linear "
                        + "[\(layer.outputFeatures), \(layer.inputFeatures)] (expected [r, \(layer.inputFeatures)] "
                        + "and [\(layer.outputFeatures), r])")
                continue
            }
            plan.append((layer, down, up, config?.alpha(for: name) ?? Float(rank)))
        }
        guard problems.isEmpty else { throw LoRAFileError.shapeMismatch(file: source, problems: problems) }

        for step in plan {
            let wasMerged = step.layer.lora?.isMerged == true
            step.layer.unfoldLoRA()
            let storage = dtype ?? step.down.dtype
            let adapter = step.layer.attachLoRA(
                rank: step.down.dim(0), alpha: step.alpha, dtype: storage,
                key: RandomKey(seed: 0))
            adapter.down.weight = step.down.asType(storage)
            adapter.up.weight = step.up.asType(storage)
            if wasMerged { step.layer.foldLoRA() }
        }
        freezeAllButLoRA()
        return config ?? currentLoRAConfig()!
    }
}

/// The `lora_A`/`lora_B` tensors of a file grouped by the layer they belong to.
struct LoRAKeyPairs {
    var byName: [String: (down: Tensor, up: Tensor)] = [:]

    init(_ tensors: [String: Tensor], source: String) throws {
        var downs: [String: Tensor] = [:], ups: [String: Tensor] = [:], foreign: [String] = []
        for (key, tensor) in tensors {
            if key.hasSuffix(".lora_A.weight") {
                downs[String(key.dropLast(".lora_A.weight".count))] = tensor
            } else if key.hasSuffix(".lora_B.weight") {
                ups[String(key.dropLast(".lora_B.weight".count))] = tensor
            } else {
                foreign.append(key)
            }
        }
        if !foreign.isEmpty {
            throw LoRAFileError.foreignKeys(file: source, keys: foreign.sorted())
        }
        let unpaired = Set(downs.keys).symmetricDifference(ups.keys).sorted()
        if !unpaired.isEmpty {
            throw LoRAFileError.unpairedLayers(file: source, layers: unpaired)
        }
        if downs.isEmpty { throw LoRAFileError.noTensors(file: source) }
        for (name, down) in downs { byName[name] = (down, ups[name]!) }
    }

    /// The key prefix (with its trailing dot, or "") under which every named layer is a Linear of the model.
    /// Without an explicit prefix, tries none, then each name's leading one or two components
    /// (`transformer.`, `base_model.model.`).
    static func resolvePrefix(_ explicit: String?, names: [String], layers: [String: Linear], source: String) throws
        -> String
    {
        var candidates: [String]
        if let explicit {
            candidates = [explicit.isEmpty ? "" : explicit + "."]
        } else {
            candidates = [""]
            for name in names.sorted() {
                let parts = name.split(separator: ".")
                for n in 1...2 where parts.count > n {
                    let head = parts.prefix(n).joined(separator: ".") + "."
                    if !candidates.contains(head) { candidates.append(head) }
                }
            }
        }
        func unresolved(_ head: String) -> [String] {
            names.filter { !$0.hasPrefix(head) || layers[String($0.dropFirst(head.count))] == nil }.sorted()
        }
        if let head = candidates.first(where: { unresolved($0).isEmpty }) { return head }
        let best = candidates.min { unresolved($0).count < unresolved($1).count }!
        let missing = unresolved(best)
        throw LoRAFileError.unknownLayers(
            file: source, missing: missing, prefix: best, modelLayers: Array(layers.keys.sorted().prefix(6)))
    }

    /// Pipeline-level metadata prefixes every config key with the component name; take that component's keys.
    static func unpack(_ object: [String: Any], prefix head: String) -> [String: Any] {
        guard !head.isEmpty, object["r"] == nil else { return object }
        var result: [String: Any] = [:]
        for (key, value) in object where key.hasPrefix(head) { result[String(key.dropFirst(head.count))] = value }
        return result.isEmpty ? object : result
    }
}
