import Checkpoints
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
            throw WorldFolderError.notAWorldFolder(
                file: folder.path,
                reason: "neither a model folder (world.json) nor a checkpoint (\(networkFolderName)/ or \(loraFile))")
        }
        try network.loadLoRA(from: lora, prefix: networkFolderName)
        if averaged { try applyAverage(folder, to: network) }
        network.mergeLoRA()
        network.removeLoRA()
        network.unfreeze()
    }

    /// A model folder (with `world.json`) loaded as it is, or a checkpoint folder applied to the network of the
    /// `base` model folder; shared by the FLUX- and UNet-architecture world models.
    static func load<Model>(
        _ folder: URL, base: URL, networkFolderName: String, averaged: Bool = true,
        loadModel: (URL) throws -> Model, network: (Model) -> Module
    ) throws -> Model {
        if FileManager.default.fileExists(atPath: folder.appendingPathComponent("world.json").path) {
            return try loadModel(folder)
        }
        let model = try loadModel(base)
        try apply(folder, to: network(model), networkFolderName: networkFolderName, averaged: averaged)
        return model
    }

    /// Puts the averaged values of the folder's `ema.safetensors` (if the run kept an EMA) into `network`, through the
    /// trainer's own `ExponentialMovingAverage` state reader: the file must hold exactly the network's trainable
    /// parameters (the full network, or the LoRA adapters before they are merged), with their shapes.
    static func applyAverage(_ folder: URL, to network: Module) throws {
        let url = folder.appendingPathComponent(emaFile)
        guard FileManager.default.fileExists(atPath: url.path) else { return }
        let average = ExponentialMovingAverage(model: network, decay: 0)
        try average.loadState(from: url)
        try average.copy(to: network)
    }
}
