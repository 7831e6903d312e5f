import Engine
import Foundation
import NN

/// A GRPO checkpoint folder of a world model (`checkpoint-<n>-0/`) applied to the pretrained model it was trained
/// from: the full network in diffusers layout (`transformer/` or `unet/`), or LoRA adapters
/// (`pytorch_lora_weights.safetensors`, keys prefixed with that folder name), which are loaded and merged; when the run
/// kept an EMA (`ema.safetensors`), its averaged values by default, as the trainer evaluates with them.
enum WorldCheckpoint {
    static let loraFile = "pytorch_lora_weights.safetensors"
    static let emaFile = "ema.safetensors"

    /// Whether `folder` is a checkpoint of a network stored under `networkFolderName` (either form).
    static func holds(_ folder: URL, networkFolderName: String) -> Bool {
        let files = FileManager.default
        if files.fileExists(atPath: folder.appendingPathComponent(networkFolderName).path) { return true }
        let lora = folder.appendingPathComponent(loraFile)
        guard files.fileExists(atPath: lora.path), let keys = try? SafeTensorsFile(url: lora).keys else { return false }
        return keys.contains { $0.hasPrefix(networkFolderName + ".") }
    }

    /// Loads the checkpoint of `folder` into `network` (the pretrained one); throws naming the folder if it holds
    /// neither form.
    static func apply(_ folder: URL, to network: Module, networkFolderName: String, averaged: Bool = true) throws {
        let full = folder.appendingPathComponent(networkFolderName)
        if FileManager.default.fileExists(atPath: full.path) {
            try network.load(contentsOf: full)
            if averaged { try applyAverage(folder, to: network) }
            return
        }
        let lora = folder.appendingPathComponent(loraFile)
        guard FileManager.default.fileExists(atPath: lora.path) else {
            throw ConfigFile.Error(file: folder.path, message: "neither a model folder (world.json) nor a checkpoint (\(networkFolderName)/ or \(loraFile))")
        }
        try network.loadLoRA(from: lora, prefix: networkFolderName)
        if averaged { try applyAverage(folder, to: network) }
        network.mergeLoRA()
        network.removeLoRA()
        network.unfreeze()
    }

    /// A model folder (with `world.json`) loaded as it is, or a checkpoint folder applied to the network of the
    /// `base` model folder; shared by the FLUX- and UNet-architecture world models.
    static func load<Model>(_ folder: URL, base: URL, networkFolderName: String, averaged: Bool = true,
                            loadModel: (URL) throws -> Model, network: (Model) -> Module) throws -> Model {
        if FileManager.default.fileExists(atPath: folder.appendingPathComponent("world.json").path) {
            return try loadModel(folder)
        }
        let model = try loadModel(base)
        try apply(folder, to: network(model), networkFolderName: networkFolderName, averaged: averaged)
        return model
    }

    /// Writes the `shadow.<parameter>` tensors of the folder's `ema.safetensors` (if any) into `network`; each must name
    /// one of its parameters with that shape. Returns whether there was an average.
    @discardableResult
    static func applyAverage(_ folder: URL, to network: Module) throws -> Bool {
        let url = folder.appendingPathComponent(emaFile)
        guard FileManager.default.fileExists(atPath: url.path) else { return false }
        let parameters = network.parameters()
        var averaged: [String: Tensor] = [:], problems: [String] = []
        for (key, value) in try SafeTensors.load(url) where key.hasPrefix("shadow.") {
            let name = String(key.dropFirst("shadow.".count))
            guard let current = parameters[name] else { problems.append("'\(name)' is not a parameter of the network"); continue }
            guard current.shape == value.shape else { problems.append("'\(key)': shape \(value.shape), expected \(current.shape)"); continue }
            averaged[name] = value.asType(current.dtype)
        }
        guard problems.isEmpty, !averaged.isEmpty else {
            throw ConfigFile.Error(file: url.path, message: problems.isEmpty ? "no 'shadow.*' tensors" : problems.sorted().prefix(8).joined(separator: "; "))
        }
        network.update(parameters: averaged)
        return true
    }
}
