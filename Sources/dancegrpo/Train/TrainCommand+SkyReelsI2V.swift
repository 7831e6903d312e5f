import ArgumentParser
import Engine
import Foundation
import Models
import Training

extension TrainCommand {
    /// `--model skyreels-i2v`: the SkyReels pipeline without its text encoders (the prompts come from the
    /// cache) and the first frames' source, FLUX (`--reference-checkpoint`) or a folder
    /// (`--reference-images`).
    static func makeSkyReelsI2VTask(_ settings: TaskSettings) throws -> TrainingTask {
        guard let checkpoint = settings.checkpoint else {
            throw ValidationError(
                """
                --model skyreels-i2v needs --checkpoint (a diffusers HunyuanVideo folder with SkyReels' transformer, \
                e.g. data/SkyReels-I2V)
                """)
        }
        guard let embeddings = settings.embeddings else {
            throw ValidationError(
                """
                --model skyreels-i2v needs --embeddings (a cache from `dancegrpo preprocess --model skyreels-i2v` or \
                DanceGRPO's, with the empty prompt's in empty/ or beside it)
                """)
        }
        let references: SkyReelsReferenceImages
        switch (settings.referenceCheckpoint, settings.referenceImages) {
        case (let flux?, nil):
            print("loading the FLUX reference model from \(flux) …")
            references = .flux(try FluxPipeline.load(from: URL(fileURLWithPath: flux), dtype: .float32))
        case (nil, let folder?):
            references = .folder(URL(fileURLWithPath: folder))
        case (.some, .some):
            throw ValidationError("give --reference-checkpoint or --reference-images, not both")
        case (nil, nil):
            throw ValidationError(
                """
                --model skyreels-i2v needs the first frames: --reference-checkpoint FLUX_DIR (DanceGRPO's: FLUX \
                makes each prompt's image) or --reference-images DIR (<i>.png per cached prompt)
                """)
        }
        print("loading SkyReels-I2V from \(checkpoint) …")
        let pipeline = try HunyuanSkyreelsImageToVideoPipeline.load(
            from: URL(fileURLWithPath: checkpoint), dtype: .float32, loadTextEncoders: false)
        return try SkyReelsI2VTask(
            pipeline: pipeline, embeddings: URL(fileURLWithPath: embeddings), references: references,
            frames: settings.numFrames, height: settings.height, width: settings.width)
    }
}
