import Checkpoints
import Engine
import Foundation

extension Module {
    /// Writes the folder diffusers' and transformers' `from_pretrained` read: `config.json` (`config` as JSON, with
    /// `_class_name` when given) and the weights in checkpoint layout under `weightsName`, each file atomically;
    /// the folder is created if needed.
    public func writePretrainedFolder(
        _ folder: URL, config: some Encodable, className: String? = nil,
        weightsName: String = "diffusion_pytorch_model.safetensors"
    ) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let configFile = folder.appendingPathComponent("config.json")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        var data = try encoder.encode(config)
        if let className {
            guard var object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw ConfigFile.Error(
                    file: configFile.path, message: "the \(className) config did not encode as a JSON object")
            }
            object["_class_name"] = className
            data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        }
        try AtomicFile.write(data, to: configFile)
        try save(to: folder.appendingPathComponent(weightsName))
    }
}
