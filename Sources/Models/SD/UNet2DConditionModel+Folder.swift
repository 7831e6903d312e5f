import Checkpoints
import Engine
import Foundation
import NN

extension UNet2DConditionModel {
    /// Writes a diffusers `unet/` folder into `folder` (created if needed): `config.json` (this model's config with
    /// diffusers' `_class_name`, which `UNet2DConditionModel.from_pretrained` reads) and
    /// `diffusion_pytorch_model.safetensors` (the diffusers keys, PyTorch's channels-first convolution layout), each
    /// written atomically. Refuses a model with LoRA adapters attached: their tensors are not UNet parameters
    /// (save them with `saveLoRA(to:prefix:)`, or merge and remove them first).
    public func writeFolder(to folder: URL) throws {
        let adapted = loraLayers()
        guard adapted.isEmpty else {
            throw ModelFolderError.unmergedAdapters(
                file: folder.path,
                reason: "the UNet carries \(adapted.count) LoRA adapters (e.g. \(adapted[0].name)); "
                    + "save them with saveLoRA, or merge and remove them before writing the full UNet")
        }
        try writePretrainedFolder(folder, config: config, className: "UNet2DConditionModel")
    }
}
