import Checkpoints
import Foundation
import NN

/// A network's parameter shapes by key (diffusers' dotted names), from a checkpoint's headers or a built module,
/// for what the memory plan needs: how many, the largest block, and what LoRA adapters would add.
public struct ParameterInventory: Sendable, Equatable {
    public var shapes: [String: [Int]]

    public init(shapes: [String: [Int]]) { self.shapes = shapes }

    /// The shapes in a safetensors checkpoint (a folder, sharded or not, or a file), read from the headers only.
    public init(checkpoint: URL) throws {
        let opened = try SafeTensorsCheckpoint(path: checkpoint)
        var shapes: [String: [Int]] = [:]
        for key in opened.keys { shapes[key] = opened.info(key)?.shape }
        self.init(shapes: shapes)
    }

    public init(module: Module) {
        self.init(shapes: module.parameters().mapValues(\.shape))
    }

    public var count: Int { shapes.values.reduce(0) { $0 + $1.reduce(1, *) } }

    /// The unit a key belongs to: its name up to the first numbered component ("transformer_blocks.3" of
    /// "transformer_blocks.3.attn.to_q.weight", "down_blocks.1" of a UNet key); nil outside numbered blocks.
    static func unit(of key: String) -> String? {
        let parts = key.split(separator: ".")
        guard let index = parts.firstIndex(where: { !$0.isEmpty && $0.allSatisfy(\.isNumber) }) else { return nil }
        return parts[...index].joined(separator: ".")
    }

    /// Parameters of the largest numbered block (what ZeRO-3 gathers at once, and gradient checkpointing recomputes).
    public var largestUnit: Int { Self.largestUnit(shapes.mapValues { $0.reduce(1, *) }) }

    static func largestUnit(_ counts: [String: Int]) -> Int {
        var units: [String: Int] = [:]
        for (key, count) in counts { if let unit = unit(of: key) { units[unit, default: 0] += count } }
        return units.values.max() ?? 0
    }

    /// Each LoRA adapter's parameters by the key of the weight it adapts: rank × (in + out) for every 2-D
    /// `<module>.weight` whose module `lora` targets.
    public func loraParameters(_ lora: LoRAConfig) -> [String: Int] {
        var out: [String: Int] = [:]
        for (key, shape) in shapes where key.hasSuffix(".weight") && shape.count == 2 {
            let module = String(key.dropLast(".weight".count))
            if lora.targets(module) { out[key] = lora.rank(for: module) * (shape[0] + shape[1]) }
        }
        return out
    }

    /// The trained parameters and largest unit with LoRA adapters of `lora` (the base then frozen).
    public func withLoRA(_ lora: LoRAConfig) -> (trainable: Int, largestUnit: Int) {
        let adapters = loraParameters(lora)
        return (adapters.values.reduce(0, +), Self.largestUnit(adapters))
    }
}
