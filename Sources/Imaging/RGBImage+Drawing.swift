/// Simple raster drawing used by the grid, the plots and the shapes renderer. Everything clips to the image.
extension RGBImage {
    /// Sets one pixel if it lies inside the image.
    @inlinable public mutating func plot(x: Int, y: Int, color: RGB) {
        guard x >= 0, x < width, y >= 0, y < height else { return }
        let o = (y * width + x) * 3
        pixels[o] = color.r
        pixels[o + 1] = color.g
        pixels[o + 2] = color.b
    }

    /// Fills the rectangle with top-left (x, y), clipped to the image.
    public mutating func fillRect(x: Int, y: Int, width w: Int, height h: Int, color: RGB) {
        let x0 = max(0, x), y0 = max(0, y), x1 = min(width, x + w), y1 = min(height, y + h)
        guard x0 < x1, y0 < y1 else { return }
        let rowWidth = width
        pixels.withUnsafeMutableBufferPointer { buffer in
            for row in y0..<y1 {
                var o = (row * rowWidth + x0) * 3
                for _ in x0..<x1 {
                    buffer[o] = color.r
                    buffer[o + 1] = color.g
                    buffer[o + 2] = color.b
                    o += 3
                }
            }
        }
    }

    /// A straight line `thickness` pixels wide (a square brush stamped along Bresenham's path).
    public mutating func drawLine(
        from start: (x: Int, y: Int), to end: (x: Int, y: Int), color: RGB, thickness: Int = 1
    ) {
        let t = max(1, thickness), before = (t - 1) / 2
        var x = start.x, y = start.y
        let dx = abs(end.x - start.x), dy = -abs(end.y - start.y)
        let sx = start.x < end.x ? 1 : -1, sy = start.y < end.y ? 1 : -1
        var error = dx + dy
        while true {
            if t == 1 {
                plot(x: x, y: y, color: color)
            } else {
                fillRect(x: x - before, y: y - before, width: t, height: t, color: color)
            }
            if x == end.x && y == end.y { break }
            let e2 = 2 * error
            if e2 >= dy { error += dy; x += sx }
            if e2 <= dx { error += dx; y += sy }
        }
    }

    /// Copies `image` so that its top-left corner lands on (x, y), clipping whatever falls outside.
    public mutating func draw(_ image: RGBImage, x: Int, y: Int) {
        let x0 = max(0, x), x1 = min(width, x + image.width)
        guard x0 < x1 else { return }
        for row in max(0, y)..<max(max(0, y), min(height, y + image.height)) {
            let source = image.offset(x: x0 - x, y: row - y), target = offset(x: x0, y: row)
            pixels[target..<(target + (x1 - x0) * 3)] = image.pixels[source..<(source + (x1 - x0) * 3)]
        }
    }
}
