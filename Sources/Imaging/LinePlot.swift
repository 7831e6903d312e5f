import Foundation

/// A line chart rendered with the bitmap font: title, legend, axes with "nice" ticks and grid lines, one or more
/// series. Meant for reward curves (raw and moving average) written as PNG.
public struct LinePlot: Sendable {
    public struct Series: Sendable {
        public var name: String
        public var x: [Double]
        public var y: [Double]
        public var color: RGB
        public var thickness: Int

        public init(name: String, x: [Double], y: [Double], color: RGB, thickness: Int = 1) {
            precondition(x.count == y.count, "series '\(name)': \(x.count) x values but \(y.count) y values")
            self.name = name
            self.x = x
            self.y = y
            self.color = color
            self.thickness = thickness
        }

        /// A series over x = 0, 1, 2, …
        public init(name: String, values: [Double], color: RGB, thickness: Int = 1) {
            self.init(name: name, x: values.indices.map(Double.init), y: values, color: color, thickness: thickness)
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    public var width: Int
    public var height: Int
    /// Fixed y range (e.g. 0...1 for a reward); nil fits the data.
    public var yRange: ClosedRange<Double>?

    public init(
        title: String, xLabel: String = "step", yLabel: String = "", series: [Series] = [],
        width: Int = 640, height: Int = 400, yRange: ClosedRange<Double>? = nil
    ) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.width = width
        self.height = height
        self.yRange = yRange
    }

    /// Distinct colours for successive series.
    public static let palette: [RGB] = [
        RGB(120, 160, 220), RGB(200, 40, 40), RGB(30, 140, 60), RGB(230, 140, 20), RGB(120, 60, 170)
    ]

    /// Trailing moving average: element i averages values[max(0, i − window + 1)...i], ignoring non-finite values.
    public static func movingAverage(_ values: [Double], window: Int) -> [Double] {
        let w = max(1, window)
        var out: [Double] = []
        out.reserveCapacity(values.count)
        var sum = 0.0, count = 0
        for (i, v) in values.enumerated() {
            if v.isFinite { sum += v; count += 1 }
            if i >= w, values[i - w].isFinite { sum -= values[i - w]; count -= 1 }
            out.append(count > 0 ? sum / Double(count) : .nan)
        }
        return out
    }

    public func render() throws -> RGBImage {
        guard width >= 120, height >= 80 else {
            throw ImagingError.invalidArgument("plot size \(width)×\(height) is too small (minimum 120×80)")
        }
        let points = series.flatMap { s in zip(s.x, s.y).filter { $0.0.isFinite && $0.1.isFinite } }
        let xTicks = AxisTicks(minimum: points.map(\.0).min() ?? 0, maximum: points.map(\.0).max() ?? 1, target: 6)
        let yTicks =
            yRange.map { AxisTicks(minimum: $0.lowerBound, maximum: $0.upperBound, target: 5) }
            ?? AxisTicks(minimum: points.map(\.1).min() ?? 0, maximum: points.map(\.1).max() ?? 1, target: 5)
        let line = BitmapFont.lineHeight
        let yTickWidth = yTicks.values.map { BitmapFont.width(of: yTicks.label($0)) }.max() ?? 0
        let yLabelText = BitmapFont.truncated(yLabel, toWidth: width / 2)
        let legend = legendRows(availableWidth: width - 8 - (6 + BitmapFont.width(of: yLabelText) + 12))
        let area = (
            left: 12 + yTickWidth, top: 10 + (1 + max(1, legend.count)) * line, right: width - 16,
            bottom: height - 2 * line - 12
        )
        let areaWidth = area.right - area.left, areaHeight = area.bottom - area.top
        guard areaWidth > 10, areaHeight > 10 else {
            throw ImagingError.invalidArgument("plot size \(width)×\(height) leaves no room for data")
        }

        var canvas = RGBImage(width: width, height: height, fill: .white)
        let ink = RGB(40, 40, 40)
        let titleText = BitmapFont.truncated(title, toWidth: width - 8)
        BitmapFont.draw(titleText, into: &canvas, x: (width - BitmapFont.width(of: titleText)) / 2, y: 6, color: ink)
        BitmapFont.draw(yLabelText, into: &canvas, x: 6, y: 8 + line, color: ink)
        for (row, entries) in legend.enumerated() { drawLegend(entries, into: &canvas, y: 8 + (1 + row) * line) }

        // Data are drawn on a separate canvas the size of the plot area, which clips them to it for free.
        let xSpan = xTicks.upper - xTicks.lower, ySpan = yTicks.upper - yTicks.lower
        func px(_ x: Double) -> Int { Int(((x - xTicks.lower) / xSpan * Double(areaWidth - 1)).rounded()) }
        func py(_ y: Double) -> Int {
            areaHeight - 1 - Int(((y - yTicks.lower) / ySpan * Double(areaHeight - 1)).rounded())
        }
        var plotArea = RGBImage(width: areaWidth, height: areaHeight, fill: .white)
        let gridColor = RGB(228, 228, 228)
        for v in xTicks.values { plotArea.fillRect(x: px(v), y: 0, width: 1, height: areaHeight, color: gridColor) }
        for v in yTicks.values { plotArea.fillRect(x: 0, y: py(v), width: areaWidth, height: 1, color: gridColor) }
        for s in series {
            let valid = zip(s.x, s.y).filter { $0.0.isFinite && $0.1.isFinite }.map { (x: px($0.0), y: py($0.1)) }
            if valid.count == 1 {
                plotArea.fillRect(x: valid[0].x - 1, y: valid[0].y - 1, width: 3, height: 3, color: s.color)
            }
            for (a, b) in zip(valid, valid.dropFirst()) {
                plotArea.drawLine(from: a, to: b, color: s.color, thickness: s.thickness)
            }
        }
        canvas.draw(plotArea, x: area.left, y: area.top)

        // Axes, ticks and their labels.
        canvas.fillRect(x: area.left - 1, y: area.top, width: 1, height: areaHeight + 1, color: ink)
        canvas.fillRect(x: area.left - 1, y: area.bottom, width: areaWidth + 1, height: 1, color: ink)
        for v in yTicks.values {
            let y = area.top + py(v)
            canvas.fillRect(x: area.left - 4, y: y, width: 3, height: 1, color: ink)
            let text = yTicks.label(v)
            BitmapFont.draw(text, into: &canvas, x: area.left - 6 - BitmapFont.width(of: text), y: y - 3, color: ink)
        }
        for v in xTicks.values {
            let x = area.left + px(v)
            canvas.fillRect(x: x, y: area.bottom + 1, width: 1, height: 3, color: ink)
            let text = xTicks.label(v)
            let textX = min(width - BitmapFont.width(of: text) - 2, max(2, x - BitmapFont.width(of: text) / 2))
            BitmapFont.draw(text, into: &canvas, x: textX, y: area.bottom + 6, color: ink)
        }
        let xText = BitmapFont.truncated(xLabel, toWidth: width - 8)
        BitmapFont.draw(
            xText, into: &canvas, x: area.left + (areaWidth - BitmapFont.width(of: xText)) / 2,
            y: area.bottom + 8 + line, color: ink)
        return canvas
    }

    public func writePNG(to url: URL) throws {
        try PNGEncoder.write(try render(), to: url)
    }

    private static let swatchWidth = 14

    /// Width of one legend entry: swatch, gap, name, space before the next.
    private func legendWidth(_ s: Series) -> Int {
        LinePlot.swatchWidth + 4 + BitmapFont.width(of: BitmapFont.truncated(s.name, toWidth: width / 3)) + 12
    }

    /// The series in legend rows, in order, each row as wide as fits beside the y label (at least one entry a row).
    private func legendRows(availableWidth: Int) -> [[Series]] {
        var rows: [[Series]] = [], used = 0
        for s in series {
            if rows.isEmpty || used + legendWidth(s) > availableWidth {
                rows.append([])
                used = 0
            }
            rows[rows.count - 1].append(s)
            used += legendWidth(s)
        }
        return rows
    }

    /// One row of entries, right-aligned: a short thick line in the series colour, then its name.
    private func drawLegend(_ entries: [Series], into canvas: inout RGBImage, y: Int) {
        var x = width - 8
        for s in entries.reversed() {
            let name = BitmapFont.truncated(s.name, toWidth: width / 3)
            x -= BitmapFont.width(of: name)
            BitmapFont.draw(name, into: &canvas, x: x, y: y, color: RGB(40, 40, 40))
            x -= LinePlot.swatchWidth + 4
            canvas.fillRect(x: x, y: y + 3, width: LinePlot.swatchWidth, height: max(2, s.thickness), color: s.color)
            x -= 12
        }
    }
}
