@testable import Imaging
import XCTest

final class LinePlotTests: XCTestCase {
    func testWritesADecodablePNGWithBothSeries() throws {
        let raw: [Double] = (0..<200).map { (i: Int) -> Double in
            let trend = 0.3 + 0.4 * Double(i) / 200
            return trend + (i % 2 == 0 ? 0.1 : -0.1)
        }
        let plot = LinePlot(
            title: "reward", yLabel: "reward",
            series: [
                .init(name: "raw", values: raw, color: RGB(120, 160, 220)),
                .init(
                    name: "moving average", values: LinePlot.movingAverage(raw, window: 10), color: RGB(200, 40, 40),
                    thickness: 2)
            ], width: 320, height: 200)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("plot-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("reward.png")
        try plot.writePNG(to: url)
        let image = try PNGDecoder.decode(contentsOf: url).rgbImage()
        XCTAssertEqual(image.width, 320)
        XCTAssertEqual(image.height, 200)
        XCTAssertEqual(image, try plot.render())
        let colours = Set(
            stride(from: 0, to: image.pixels.count, by: 3).map {
                RGB(image.pixels[$0], image.pixels[$0 + 1], image.pixels[$0 + 2])
            })
        XCTAssertTrue(colours.contains(RGB(120, 160, 220)))
        XCTAssertTrue(colours.contains(RGB(200, 40, 40)))
        XCTAssertTrue(colours.contains(RGB(40, 40, 40)), "axes and labels")
    }

    func testRisingSeriesIsDrawnRising() throws {
        let plot = LinePlot(
            title: "", series: [.init(name: "up", values: [0, 1, 2, 3, 4], color: RGB(255, 0, 0), thickness: 1)],
            width: 200, height: 150)
        let image = try plot.render()
        // The red pixels at the left are lower on the image (larger y) than those at the right. Rows above 40 hold
        // the legend's red swatch.
        var left = (x: Int.max, y: 0), right = (x: Int.min, y: 0)
        for y in 40..<image.height {
            for x in 0..<image.width where image[x, y] == RGB(255, 0, 0) {
                if x < left.x { left = (x, y) }
                if x > right.x { right = (x, y) }
            }
        }
        XCTAssertGreaterThan(right.x - left.x, 100)
        XCTAssertGreaterThan(left.y - right.y, 50)
    }

    func testHandlesEmptyConstantAndNonFiniteData() throws {
        XCTAssertNoThrow(try LinePlot(title: "empty").render())
        XCTAssertNoThrow(
            try LinePlot(title: "constant", series: [.init(name: "c", values: [0.5, 0.5], color: .black)]).render())
        XCTAssertNoThrow(
            try LinePlot(title: "nan", series: [.init(name: "n", values: [.nan, 1, .infinity, 2], color: .black)])
                .render())
        XCTAssertNoThrow(
            try LinePlot(title: "one", series: [.init(name: "p", values: [3], color: .black)], yRange: 0...1).render())
        XCTAssertThrowsError(try LinePlot(title: "tiny", width: 50, height: 50).render())
    }

    func testMovingAverage() {
        XCTAssertEqual(LinePlot.movingAverage([1, 2, 3, 4, 5], window: 2), [1, 1.5, 2.5, 3.5, 4.5])
        XCTAssertEqual(LinePlot.movingAverage([1, 2, 3], window: 10), [1, 1.5, 2])
        let withGap = LinePlot.movingAverage([2, .nan, 4, 6], window: 2)
        XCTAssertEqual(withGap[0], 2)
        XCTAssertEqual(withGap[1], 2)
        XCTAssertEqual(withGap[2], 4)
        XCTAssertEqual(withGap[3], 5)
    }

    func testNiceTicks() {
        let ticks = AxisTicks(minimum: 0.13, maximum: 0.87, target: 5)
        XCTAssertEqual(ticks.step, 0.2, accuracy: 1e-12)
        XCTAssertEqual(ticks.lower, 0, accuracy: 1e-12)
        XCTAssertEqual(ticks.upper, 1, accuracy: 1e-12)
        XCTAssertEqual(ticks.values.map(ticks.label), ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        let steps = AxisTicks(minimum: 0, maximum: 299, target: 6)
        XCTAssertEqual(steps.step, 50)
        XCTAssertEqual(steps.values.map(steps.label).last, "300")
        let degenerate = AxisTicks(minimum: 2, maximum: 2)
        XCTAssertLessThan(degenerate.lower, 2)
        XCTAssertGreaterThan(degenerate.upper, 2)
        XCTAssertEqual(AxisTicks(minimum: -1, maximum: 1).label(-0.0), "0.0")
    }
}
