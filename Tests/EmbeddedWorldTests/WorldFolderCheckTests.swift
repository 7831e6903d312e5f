import EmbeddedWorld
import Foundation
import TestSupport
import XCTest

/// A world folder whose parts are each valid but do not fit together is refused at load, naming the parts, instead
/// of failing inside the engine (or, for the UNet world's channels, stopping the program).
final class WorldFolderCheckTests: XCTestCase {
    private func edit(_ file: URL, _ change: (inout [String: Any]) -> Void) throws {
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any])
        change(&object)
        try JSONSerialization.data(withJSONObject: object).write(to: file)
    }

    func testAFluxWorldWithAnImageSizeAndChannelsThatDoNotFitIsRefused() throws {
        var settings = WorldModel.Settings()
        settings.imageSize = 16
        let folder = try temporaryDirectory(self)
        try WorldModel.create(seed: 1, settings: settings, heads: 2, layers: 1).writeFolder(to: folder)
        try edit(folder.appendingPathComponent("world.json")) { $0["image_size"] = 18 }
        try edit(folder.appendingPathComponent("transformer/config.json")) { $0["in_channels"] = 40 }
        XCTAssertThrowsError(try WorldModel.load(from: folder)) { error in
            XCTAssertEqual(
                error as? WorldFolderError,
                .components(
                    file: folder.path,
                    reason:
                        "world.json image_size: expected a multiple of 4 up to 4096, found 18; "
                        + "transformer/config.json in_channels: expected 48 (packed latents), found 40; "
                        + "transformer/config.json out_channels: expected 48 (packed latents), found 40"))
        }
    }

    func testAUNetWorldWhoseChannelsAreNotThePixelCodecsIsRefused() throws {
        var settings = StableDiffusionWorldModel.Settings()
        settings.imageSize = 16
        let folder = try temporaryDirectory(self)
        try StableDiffusionWorldModel.create(seed: 1, settings: settings).writeFolder(to: folder)
        try edit(folder.appendingPathComponent("unet/config.json")) { $0["out_channels"] = 4 }
        XCTAssertThrowsError(try StableDiffusionWorldModel.load(from: folder)) { error in
            XCTAssertEqual(
                error as? WorldFolderError,
                .components(
                    file: folder.path,
                    reason: "unet/config.json out_channels: expected 12 (the pixel codec), found 4"))
        }
    }
}
