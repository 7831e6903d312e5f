import Imaging
import XCTest

/// Video tensors (FHWC floats) to frames and back.
final class VideoFramesTests: XCTestCase {
    func testFramesSplitAlongTheFirstAxisAndMapTheRange() throws {
        // 2 frames of 1 × 2 pixels: frame 0 is black then white, frame 1 mid-grey then red, in [-1, 1].
        let values: [Float] = [-1, -1, -1, 1, 1, 1, 0, 0, 0, 1, -1, -1]
        let frames = try RGBImage.frames(fhwc: values, shape: [2, 1, 2, 3], range: .minusOneToOne)
        XCTAssertEqual(frames.count, 2)
        XCTAssertEqual([frames[0][0, 0], frames[0][1, 0]], [.black, .white])
        XCTAssertEqual([frames[1][0, 0], frames[1][1, 0]], [RGB(128, 128, 128), RGB(255, 0, 0)])
        XCTAssertEqual(try RGBImage.frames(fhwc: values, shape: [1, 2, 1, 2, 3], range: .minusOneToOne), frames)

        let unit = values.map { ($0 + 1) / 2 }
        XCTAssertEqual(try RGBImage.frames(fhwc: unit, shape: [2, 1, 2, 3], range: .zeroToOne), frames)
        let back = try RGBImage.fhwcValues(frames: frames, range: .zeroToOne)
        XCTAssertEqual(back.count, 12)
        XCTAssertEqual(back, unit.map { (($0 * 255).rounded()) / 255 })
    }

    func testGreyFramesAndBadShapes() throws {
        let grey = try RGBImage.frames(fhwc: [0, 1, 0.5], shape: [3, 1, 1, 1], range: .zeroToOne)
        XCTAssertEqual(grey.map { $0[0, 0] }, [.black, .white, RGB(128, 128, 128)])
        XCTAssertThrowsError(try RGBImage.frames(fhwc: [0, 0, 0], shape: [1, 1, 3], range: .zeroToOne))
        XCTAssertThrowsError(try RGBImage.frames(fhwc: [0, 0, 0], shape: [2, 1, 1, 1, 3], range: .zeroToOne))
        XCTAssertThrowsError(try RGBImage.frames(fhwc: [0, 0, 0], shape: [2, 1, 1, 3], range: .zeroToOne))
        XCTAssertThrowsError(try RGBImage.frames(fhwc: [0, 0], shape: [1, 1, 1, 2], range: .zeroToOne))
        XCTAssertThrowsError(
            try RGBImage.fhwcValues(
                frames: [RGBImage(width: 1, height: 1), RGBImage(width: 2, height: 1)],
                range: .zeroToOne))
        XCTAssertEqual(try RGBImage.fhwcValues(frames: [], range: .zeroToOne), [])
    }
}
