import Checkpoints
import Engine
import Foundation

/// Which embedded model a world folder holds: the FLUX-architecture transformer (``WorldModel``), the UNet
/// (``StableDiffusionWorldModel``) or the moving-shapes world's Wan transformer (``MovingShapesWorldModel``). Read
/// from `world.json`'s `architecture` field (absent in the FLUX folders written before the UNet world existed); a
/// checkpoint folder without `world.json` is told apart by its `unet/` or `transformer/` subfolder (a moving-shapes
/// checkpoint reads as flux there: its base folder's `world.json` says wan).
public enum WorldArchitecture: String, Codable, Sendable, CaseIterable {
    case flux
    case unet
    case wan

    public static func of(folder: URL) throws -> WorldArchitecture {
        let worldFile = folder.appendingPathComponent("world.json")
        if FileManager.default.fileExists(atPath: worldFile.path) {
            let object = try ConfigFile.object(from: worldFile)
            guard let name = object["architecture"] else { return .flux }
            guard let text = name as? String, let architecture = WorldArchitecture(rawValue: text) else {
                throw WorldFolderError.unknownArchitecture(
                    file: worldFile.path,
                    reason: "architecture \(name): expected one of "
                        + allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))
            }
            return architecture
        }
        if WorldCheckpoint.holds(folder, networkFolderName: "unet") { return .unet }
        if WorldCheckpoint.holds(folder, networkFolderName: "transformer") { return .flux }
        throw WorldFolderError.notAWorldFolder(
            file: folder.path,
            reason:
                """
                not a world model folder (world.json) or checkpoint (unet/ or transformer/, or \
                \(WorldCheckpoint.loraFile) of either)
                """
        )
    }
}
