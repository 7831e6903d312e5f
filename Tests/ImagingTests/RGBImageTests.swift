import Imaging
import XCTest

final class RGBImageTests: XCTestCase {
    func testPixelAccessIsRowMajorRGB() {
        var image = RGBImage(width: 3, height: 2, fill: .black)
        image[2, 1] = RGB(1, 2, 3)
        XCTAssertEqual(Array(image.pixels[15..<18]), [1, 2, 3])
        XCTAssertEqual(image[2, 1], RGB(1, 2, 3))
        XCTAssertEqual(image[0, 0], .black)
        XCTAssertThrowsError(try RGBImage(width: 2, height: 2, pixels: [0, 0, 0]))
    }

    func testFromFloatsInBothRanges() throws {
        // 1×2 image, HWC.
        let minusOne = try RGBImage(hwc: [-1, 0, 1, 2, -3, .nan], shape: [1, 2, 3], range: .minusOneToOne)
        XCTAssertEqual(minusOne.pixels, [0, 128, 255, 255, 0, 0])
        let unit = try RGBImage(hwc: [0, 0.5, 1, 0.25, 0.75, 0.2], shape: [1, 1, 2, 3], range: .zeroToOne)
        XCTAssertEqual(unit.pixels, [0, 128, 255, 64, 191, 51])
        let grey = try RGBImage(hwc: [0, 1], shape: [2, 1, 1], range: .zeroToOne)
        XCTAssertEqual(grey.pixels, [0, 0, 0, 255, 255, 255])
        XCTAssertThrowsError(try RGBImage(hwc: [0, 1], shape: [1, 1, 3], range: .zeroToOne))
        XCTAssertThrowsError(try RGBImage(hwc: [0, 1], shape: [2, 1, 1, 1], range: .zeroToOne))
        XCTAssertThrowsError(try RGBImage(hwc: [0, 1, 2, 3], shape: [1, 1, 4], range: .zeroToOne))
    }

    func testFloatRoundTrip() throws {
        let image = TestImages.noise(width: 5, height: 4)
        for range: RGBImage.FloatRange in [.zeroToOne, .minusOneToOne] {
            let back = try RGBImage(hwc: image.floatValues(range: range), shape: [4, 5, 3], range: range)
            XCTAssertEqual(back, image)
        }
        XCTAssertEqual(RGBImage(width: 1, height: 1, fill: .white).floatValues(range: .minusOneToOne), [1, 1, 1])
    }

    func testCrop() throws {
        let image = TestImages.noise(width: 6, height: 5)
        let crop = try image.cropped(x: 2, y: 1, width: 3, height: 2)
        XCTAssertEqual(crop.width, 3)
        XCTAssertEqual(crop[0, 0], image[2, 1])
        XCTAssertEqual(crop[2, 1], image[4, 2])
        XCTAssertThrowsError(try image.cropped(x: 4, y: 0, width: 3, height: 1))
    }

    func testNearestResize() throws {
        let image = TestImages.noise(width: 3, height: 2)
        let doubled = try image.resizedNearest(width: 6, height: 4)
        for y in 0..<4 { for x in 0..<6 { XCTAssertEqual(doubled[x, y], image[x / 2, y / 2]) } }
        XCTAssertEqual(try doubled.resizedNearest(width: 3, height: 2), image)
        XCTAssertEqual(try image.upscaled(by: 2), doubled)
    }

    func testBilinearResize() throws {
        // Two pixels 0 and 200 stretched to four: centres at −0.25, 0.25, 0.75, 1.25 of the source → 0, 50, 150,
        // 200.
        let image = try RGBImage(width: 2, height: 1, pixels: [0, 0, 0, 200, 200, 200])
        let wide = try image.resizedBilinear(width: 4, height: 1)
        XCTAssertEqual(wide.pixels.enumerated().filter { $0.offset % 3 == 0 }.map(\.element), [0, 50, 150, 200])
        let flat = RGBImage(width: 7, height: 5, fill: RGB(9, 99, 199))
        XCTAssertEqual(
            try flat.resizedBilinear(width: 3, height: 11), RGBImage(width: 3, height: 11, fill: RGB(9, 99, 199)))
    }

    func testPSNR() throws {
        let a = RGBImage(width: 4, height: 4, fill: RGB(100, 100, 100))
        var b = a
        XCTAssertEqual(try RGBImage.psnr(a, b), .infinity)
        b.fillRect(x: 0, y: 0, width: 4, height: 4, color: RGB(110, 110, 110))
        XCTAssertEqual(try RGBImage.psnr(a, b), 10 * log10(255.0 * 255 / 100), accuracy: 1e-9)
    }

    func testDrawingClipsToTheImage() {
        var image = RGBImage(width: 8, height: 8, fill: .white)
        image.fillRect(x: -3, y: 6, width: 5, height: 10, color: .black)
        XCTAssertEqual(image[0, 7], .black)
        XCTAssertEqual(image[1, 6], .black)
        XCTAssertEqual(image[2, 6], .white)
        image.drawLine(from: (0, 0), to: (7, 7), color: RGB(255, 0, 0))
        for i in 0..<8 { XCTAssertEqual(image[i, i], RGB(255, 0, 0)) }
        image.draw(RGBImage(width: 4, height: 4, fill: .grey), x: 6, y: -2)
        XCTAssertEqual(image[7, 1], .grey)
        XCTAssertEqual(image[5, 1], .white)
    }
}
