import Foundation

/// Tiles several images into one, each optionally with a caption underneath (the bitmap font), with padding between
/// tiles and an optional title on top. Tiles are as large as the largest image (times `scale`); smaller images are
/// centred in their cell.
public struct ImageGrid: Sendable {
    /// Columns; nil means ⌈√n⌉.
    public var columns: Int?
    /// Blank pixels around and between cells.
    public var padding: Int
    /// Integer pixel-replication factor for the tiles (32-pixel samples are unreadable at 1×).
    public var scale: Int
    /// Lines of text reserved under each tile when captions are given; longer captions are wrapped, then cut with "..".
    public var captionLines: Int
    /// Cells are at least this wide, so captions under small tiles get room to be read.
    public var minimumCellWidth: Int
    public var title: String?
    public var background: RGB
    public var textColor: RGB
    /// A one-pixel frame drawn just outside each tile, so tiles with the page's background colour stay visible.
    public var frameColor: RGB?

    public init(
        columns: Int? = nil, padding: Int = 4, scale: Int = 1, captionLines: Int = 2, minimumCellWidth: Int = 0,
        title: String? = nil,
        background: RGB = .white, textColor: RGB = .black, frameColor: RGB? = RGB(200, 200, 200)
    ) {
        self.columns = columns
        self.padding = padding
        self.scale = scale
        self.captionLines = captionLines
        self.minimumCellWidth = minimumCellWidth
        self.title = title
        self.background = background
        self.textColor = textColor
        self.frameColor = frameColor
    }

    /// The grid image. `captions`, when given, needs one entry per image.
    public func render(_ images: [RGBImage], captions: [String]? = nil) throws -> RGBImage {
        guard !images.isEmpty else { throw ImagingError.invalidArgument("an image grid needs at least one image") }
        if let captions, captions.count != images.count {
            throw ImagingError.invalidArgument("\(images.count) images but \(captions.count) captions")
        }
        guard scale >= 1, padding >= 0, captionLines >= 0 else {
            throw ImagingError.invalidArgument(
                "scale must be ≥ 1 and padding, captionLines ≥ 0 (got \(scale), \(padding), \(captionLines))")
        }
        let layout = layout(
            count: images.count, tileWidth: images.map(\.width).max()! * scale,
            tileHeight: images.map(\.height).max()! * scale, captioned: captions != nil)
        var canvas = RGBImage(width: layout.width, height: layout.height, fill: background)
        if let title {
            let line = BitmapFont.truncated(title, toWidth: layout.width - 2 * padding)
            BitmapFont.draw(line, into: &canvas, x: padding, y: padding, color: textColor)
        }
        for (i, image) in images.enumerated() {
            let (cellX, cellY) = layout.cellOrigin(i)
            let tile = try image.upscaled(by: scale)
            let tileX = cellX + (layout.cellWidth - tile.width) / 2,
                tileY = cellY + (layout.tileHeight - tile.height) / 2
            if let frameColor {
                canvas.fillRect(
                    x: tileX - 1, y: tileY - 1, width: tile.width + 2, height: tile.height + 2, color: frameColor)
            }
            canvas.draw(tile, x: tileX, y: tileY)
            guard let captions else { continue }
            let lines = BitmapFont.wrapped(captions[i], toWidth: layout.cellWidth, maxLines: captionLines)
            for (n, line) in lines.enumerated() {
                BitmapFont.draw(
                    line, into: &canvas, x: cellX, y: cellY + layout.tileHeight + 2 + n * BitmapFont.lineHeight,
                    color: textColor)
            }
        }
        return canvas
    }

    public func writePNG(_ images: [RGBImage], captions: [String]? = nil, to url: URL) throws {
        try PNGEncoder.write(try render(images, captions: captions), to: url)
    }

    /// Where everything goes; exposed for tests and for callers that need the final size up front.
    public struct Layout: Sendable {
        public let columns: Int
        public let rows: Int
        /// Width of a cell: the widest tile, or `minimumCellWidth` if larger.
        public let cellWidth: Int
        public let tileHeight: Int
        public let captionHeight: Int
        public let titleHeight: Int
        public let padding: Int

        public var width: Int { columns * cellWidth + (columns + 1) * padding }
        public var height: Int { titleHeight + rows * (tileHeight + captionHeight) + (rows + 1) * padding }

        public func cellOrigin(_ index: Int) -> (x: Int, y: Int) {
            let column = index % columns, row = index / columns
            return (
                padding + column * (cellWidth + padding),
                titleHeight + padding + row * (tileHeight + captionHeight + padding)
            )
        }
    }

    public func layout(count: Int, tileWidth: Int, tileHeight: Int, captioned: Bool) -> Layout {
        let columns = max(1, min(count, self.columns ?? Int(Double(count).squareRoot().rounded(.up))))
        let rows = (count + columns - 1) / columns
        let captionHeight = captioned && captionLines > 0 ? 2 + captionLines * BitmapFont.lineHeight : 0
        let titleHeight = title == nil ? 0 : BitmapFont.lineHeight + padding
        return Layout(
            columns: columns, rows: rows, cellWidth: max(tileWidth, minimumCellWidth), tileHeight: tileHeight,
            captionHeight: captionHeight, titleHeight: titleHeight, padding: padding)
    }
}
