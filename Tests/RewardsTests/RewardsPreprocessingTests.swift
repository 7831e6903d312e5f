import Engine
import Imaging
@testable import Rewards
import TestSupport
import XCTest

/// The image pipelines against their references (tools/goldens/rewards.py): open_clip's `image_transform` and
/// transformers' CLIPImageProcessor (PIL, compared byte for byte) and DanceGRPO's HPS transform (torchvision's
/// antialiased bicubic on floats).
final class RewardsPreprocessingTests: XCTestCase {
    /// Largest |Swift − PIL| in 8-bit levels over the resized and cropped image.
    private func pilLevels(
        _ preprocessing: CLIPImagePreprocessing, _ image: RGBImage, golden: Tensor,
        crop: (Int, Int, Int)? = nil
    ) -> Int {
        var values = preprocessing.unnormalizedPixels(image)
        if let (start, length, size) = crop { values = Self.centre(values, start: start, length: length, size: size) }
        let ours = values.map { Int(($0 * 255).rounded()) }
        let theirs = golden.toArray(UInt8.self).map(Int.init)
        XCTAssertEqual(ours.count, theirs.count)
        return zip(ours, theirs).map { abs($0 - $1) }.max() ?? 0
    }

    /// Rows and columns start..<start+length of a `size × size × 3` HWC buffer.
    private static func centre(_ values: [Float], start: Int, length: Int, size: Int) -> [Float] {
        var out: [Float] = []
        for y in start..<(start + length) {
            let from = (y * size + start) * 3
            out.append(contentsOf: values[from..<(from + length * 3)])
        }
        return out
    }

    func testOpenCLIPTransformMatchesPILExactly() throws {
        for name in RewardFixtures.imageNames {
            let levels = pilLevels(
                .openCLIP(size: 48), try RewardFixtures.image(name),
                golden: RewardFixtures.tensor("pre.\(name).openclip"))
            XCTAssertEqual(levels, 0, "\(name): open_clip Resize+CenterCrop differs from PIL by \(levels) levels")
        }
    }

    func testCLIPProcessorMatchesTransformersExactly() throws {
        for name in RewardFixtures.imageNames {
            let levels = pilLevels(
                .clipProcessor(size: 48), try RewardFixtures.image(name),
                golden: RewardFixtures.tensor("pre.\(name).clipprocessor"))
            XCTAssertEqual(levels, 0, "\(name): CLIPImageProcessor resize+crop differs from PIL by \(levels) levels")
        }
    }

    func testHPSTransformMatchesTorchvision() throws {
        var worst: Float = 0
        for name in RewardFixtures.imageNames {
            let image = try RewardFixtures.image(name)
            let ours = Tensor(CLIPImagePreprocessing.hpsv2(size: 48).unnormalizedPixels(image), shape: [48, 48, 3])
            let error = maxAbsDifference(ours, RewardFixtures.tensor("pre.\(name).hps"))
            worst = max(worst, error)
            XCTAssertLessThanOrEqual(error, 2e-6, name)
        }
        print("HPS preprocessing vs torchvision: max abs \(worst) (in [0, 1] units)")
    }

    func testNormalisedModelInputs() throws {
        let name = RewardFixtures.imageNames[0]
        let image = try RewardFixtures.image(name)
        let hps = Tensor(CLIPImagePreprocessing.hpsv2(size: 48).pixelValues(image), shape: [48, 48, 3])
        assertClose(hps, RewardFixtures.tensor("pre.\(name).hps_normalized"), tolerance: 1e-5)
        let clip = Tensor(CLIPImagePreprocessing.clipProcessor(size: 48).pixelValues(image), shape: [48, 48, 3])
        assertClose(clip, RewardFixtures.tensor("pre.\(name).clipprocessor_normalized"), tolerance: 1e-6)
    }

    /// A 720×540 image at the real size 224 (downscale factor 2.4); the golden keeps the central 64×64.
    func testFullSizeDownscale() throws {
        let image = try RewardFixtures.image("big")
        let levels = pilLevels(
            .openCLIP(size: 224), image, golden: RewardFixtures.tensor("pre224.big.openclip"), crop: (80, 64, 224))
        XCTAssertEqual(levels, 0)
        let hps = CLIPImagePreprocessing.hpsv2(size: 224).unnormalizedPixels(image)
        let centre: [Float] = Self.centre(hps, start: 80, length: 64, size: 224)
        let error = maxAbsDifference(Tensor(centre, shape: [64, 64, 3]), RewardFixtures.tensor("pre224.big.hps"))
        print("HPS preprocessing at 224 vs torchvision: max abs \(error)")
        XCTAssertLessThanOrEqual(error, 2e-6)
    }

    func testGeometryRules() {
        // int(398.2)
        XCTAssertEqual(CLIPImagePreprocessing.shortestSideSize(width: 720, height: 1280, size: 224).height, 398)
        XCTAssertEqual(CLIPImagePreprocessing.shortestSideSize(width: 97, height: 131, size: 48).height, 64)
        XCTAssertEqual(CLIPImagePreprocessing.cropOffset(excess: 1, .torchvision), 0)  // round(0.5) = 0
        XCTAssertEqual(CLIPImagePreprocessing.cropOffset(excess: 3, .torchvision), 2)  // round(1.5) = 2
        XCTAssertEqual(CLIPImagePreprocessing.cropOffset(excess: 3, .floor), 1)
    }
}
