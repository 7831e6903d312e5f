import Engine

/// No layer of the model matched a LoRA configuration's targets.
public enum LoRATargetError: Error, CustomStringConvertible, Sendable {
    /// ``Module/addLoRA(_:dtype:key:)`` found no ``Linear`` layer that the config targets; `targets` describes the
    /// config's target modules (a list, or `/regex/`), `availableLinearLayers` are the model's Linear layers.
    case noMatchingLinearLayer(targets: String, availableLinearLayers: [String])

    public var description: String {
        switch self {
        case .noMatchingLinearLayer(let targets, let availableLinearLayers):
            let shown = availableLinearLayers.prefix(8).joined(separator: ", ")
            return "LoRA targets \(targets) match no Linear layer; the model's Linear layers are: \(shown)"
                + (availableLinearLayers.count > 8 ? ", … (\(availableLinearLayers.count))" : "")
        }
    }
}

extension Module {
    /// Every ``Linear`` in the tree by dotted name, leaving out the adapters' own `lora_A`/`lora_B` layers.
    public func linearLayers() -> [(name: String, layer: Linear)] {
        namedModules().compactMap { name, module in
            guard let linear = module as? Linear else { return nil }
            let last = name.split(separator: ".").last.map(String.init)
            return last == "lora_A" || last == "lora_B" ? nil : (name, linear)
        }
    }

    /// The layers that carry an adapter, by dotted name.
    public func loraLayers() -> [(name: String, layer: Linear)] {
        linearLayers().filter { $0.layer.lora != nil }
    }

    /// Attaches an adapter to every ``Linear`` whose name `config` targets, then freezes everything except the
    /// adapters (PEFT's `get_peft_model`). Returns the adapted layers' names; throws if none matched.
    /// Load the base checkpoint first: a strict ``Module/load(_:strict:dtype:source:)`` afterwards would miss the
    /// adapter keys (adapters come and go with ``loadLoRA(from:prefix:dtype:)`` /
    /// ``saveLoRA(to:prefix:writeAdapterConfig:)``).
    @discardableResult
    public func addLoRA(_ config: LoRAConfig, dtype: DType = .float32, key: RandomKey) throws -> [String] {
        let all = linearLayers()
        let targets = all.filter { config.targets($0.name) }
        guard !targets.isEmpty else {
            let described = config.targetRegex.map { "/\($0)/" } ?? "\(config.targetModules)"
            throw LoRATargetError.noMatchingLinearLayer(targets: described, availableLinearLayers: all.map(\.name))
        }
        let keys = key.split(into: targets.count)
        for ((name, layer), layerKey) in zip(targets, keys) {
            layer.attachLoRA(rank: config.rank(for: name), alpha: config.alpha(for: name), dtype: dtype, key: layerKey)
        }
        freezeAllButLoRA()
        return targets.map(\.name)
    }

    /// Only the adapters train: the base weights (and every other parameter) are frozen.
    public func freezeAllButLoRA() {
        freeze()
        unfreeze(matching: "lora_A,lora_B")
    }

    /// Folds every adapter into its base weight, `W += scale · B A` (for fast inference, or to export a plain
    /// checkpoint); the adapter path is then skipped. On a ``Linear`` it acts on that layer.
    public func mergeLoRA() { for (_, layer) in loraLayers() { layer.foldLoRA() } }

    /// Undoes ``mergeLoRA()`` everywhere (`W −= scale · B A`; exact up to the rounding of the weight's dtype).
    public func unmergeLoRA() { for (_, layer) in loraLayers() { layer.unfoldLoRA() } }

    /// Removes every adapter; merged ones stay folded into their weights.
    public func removeLoRA() { for (_, layer) in loraLayers() { layer.detachLoRA() } }

    /// The configuration that describes the attached adapters exactly: the most common rank and alpha, per-layer
    /// exceptions in the patterns, and the adapted layers' full names as targets.
    public func currentLoRAConfig() -> LoRAConfig? {
        let layers = loraLayers()
        guard !layers.isEmpty else { return nil }
        func mostCommon<V: Hashable>(_ values: [V]) -> V {
            let counts = Dictionary(values.map { ($0, 1) }, uniquingKeysWith: +)
            // Ties go to the value seen first, so the result does not depend on hashing.
            return values.first { counts[$0] == counts.values.max() }!
        }
        let rank = mostCommon(layers.map { $0.layer.lora!.rank })
        let alpha = mostCommon(layers.map { $0.layer.lora!.alpha })
        var ranks: [String: Int] = [:], alphas: [String: Float] = [:]
        for (name, layer) in layers {
            if layer.lora!.rank != rank { ranks[name] = layer.lora!.rank }
            if layer.lora!.alpha != alpha { alphas[name] = layer.lora!.alpha }
        }
        return LoRAConfig(
            rank: rank, alpha: alpha, targetModules: layers.map(\.name), rankPattern: ranks,
            alphaPattern: alphas)
    }
}
