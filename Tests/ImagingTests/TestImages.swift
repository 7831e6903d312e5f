import Foundation
import Imaging
import TestSupport

/// Deterministic test pictures and fixture access shared by the imaging tests.
enum TestImages {
    /// Uniformly random bytes from a fixed linear congruential sequence.
    static func noise(width: Int, height: Int, seed: UInt64 = 1) -> RGBImage {
        var state = seed
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for i in pixels.indices {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            pixels[i] = UInt8(truncatingIfNeeded: state >> 56)
        }
        return try! RGBImage(width: width, height: height, pixels: pixels)
    }

    /// Smooth gradients with a flat rectangle: compressible and DCT-friendly.
    static func smooth(width: Int, height: Int, rectangle: RGB = RGB(30, 60, 200)) -> RGBImage {
        var image = RGBImage(width: width, height: height)
        for y in 0..<height {
            for x in 0..<width {
                image[x, y] = RGB(
                    UInt8(x * 255 / max(1, width - 1)), UInt8(y * 255 / max(1, height - 1)),
                    UInt8(128 + (x - y) / 4))
            }
        }
        image.fillRect(x: width / 4, y: height / 4, width: width / 3, height: height / 3, color: rectangle)
        return image
    }

    static func fixtureBytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: Fixture.url("imaging/" + name)))
    }
}
