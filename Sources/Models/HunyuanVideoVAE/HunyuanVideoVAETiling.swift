import Engine
import NN

// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/autoencoders/autoencoder_kl_hunyuan_video.py#L702
/// When and how ``AutoencoderKLHunyuanVideo`` splits a clip into overlapping tiles, as diffusers'
/// `AutoencoderKLHunyuanVideo` attributes: `use_tiling` (spatial tiles, off until `enable_tiling()`),
/// `use_framewise_encoding/decoding` (temporal tiles, on), and the tile sizes and strides in video pixels and frames
/// (latent ones are these divided by the compression); also `use_slicing` (one batch item at a time, off until
/// `enable_slicing()`). The defaults are diffusers'.
public struct HunyuanVideoVAETiling: Sendable, Equatable {
    public var useSlicing = false
    public var useTiling = false
    public var useFramewiseEncoding = true
    public var useFramewiseDecoding = true
    public var sampleMinHeight = 256
    public var sampleMinWidth = 256
    public var sampleMinFrames = 16
    public var sampleStrideHeight = 192
    public var sampleStrideWidth = 192
    public var sampleStrideFrames = 12

    public init() {}

    /// diffusers' `enable_tiling(...)`: spatial tiles on; nil keeps a size as it is.
    public mutating func enable(
        minHeight: Int? = nil, minWidth: Int? = nil, minFrames: Int? = nil, strideHeight: Int? = nil,
        strideWidth: Int? = nil, strideFrames: Int? = nil
    ) {
        useTiling = true
        sampleMinHeight = minHeight ?? sampleMinHeight
        sampleMinWidth = minWidth ?? sampleMinWidth
        sampleMinFrames = minFrames ?? sampleMinFrames
        sampleStrideHeight = strideHeight ?? sampleStrideHeight
        sampleStrideWidth = strideWidth ?? sampleStrideWidth
        sampleStrideFrames = strideFrames ?? sampleStrideFrames
    }
}

// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/autoencoders/autoencoder_kl_hunyuan_video.py#L851
// Tiles, as diffusers cuts and blends them, on channels-last clips [B, T, H, W, C]. diffusers blends in place: a tile,
// once blended with its upper and left (or earlier) neighbours, is what its own lower and right (or later) neighbours
// blend with; the stored tiles are replaced the same way here.
extension AutoencoderKLHunyuanVideo {
    /// diffusers' `tiled_encode`: video tiles of `sampleMin` pixels every `sampleStride`, encoded alone, blended over
    /// the latent overlap.
    func tiledEncode(_ x: Tensor) -> Tensor {
        let s = spatialCompression
        return Self.spatialTiles(
            x, tile: (tiling.sampleMinHeight, tiling.sampleMinWidth),
            step: (tiling.sampleStrideHeight, tiling.sampleStrideWidth),
            blend: (
                tiling.sampleMinHeight / s - tiling.sampleStrideHeight / s,
                tiling.sampleMinWidth / s - tiling.sampleStrideWidth / s
            ),
            keep: (tiling.sampleStrideHeight / s, tiling.sampleStrideWidth / s),
            size: (x.dim(2) / s, x.dim(3) / s)
        ) { quantConv(encoder($0)) }
    }

    /// diffusers' `tiled_decode`: latent tiles of `sampleMin / 8` every `sampleStride / 8`, decoded alone, blended
    /// over the pixel overlap `sampleMin − sampleStride`.
    func tiledDecode(_ z: Tensor) -> Tensor {
        let s = spatialCompression
        return Self.spatialTiles(
            z, tile: (tiling.sampleMinHeight / s, tiling.sampleMinWidth / s),
            step: (tiling.sampleStrideHeight / s, tiling.sampleStrideWidth / s),
            blend: (
                tiling.sampleMinHeight - tiling.sampleStrideHeight, tiling.sampleMinWidth - tiling.sampleStrideWidth
            ),
            keep: (tiling.sampleStrideHeight, tiling.sampleStrideWidth), size: (z.dim(2) * s, z.dim(3) * s)
        ) { decoder(postQuantConv($0)) }
    }

    /// diffusers' `_temporal_tiled_encode`: tiles of `sampleMinFrames + 1` frames every `sampleStrideFrames`, each
    /// encoded alone (in spatial tiles when those are on and the frames are large), the first latent frame of every
    /// tile after the first dropped (it only repeats the tile's start), blended over the latent overlap.
    func temporalTiledEncode(_ x: Tensor) -> Tensor {
        let t = temporalCompression
        let useSpatial = tiling.useTiling && (x.dim(2) > tiling.sampleMinHeight || x.dim(3) > tiling.sampleMinWidth)
        return Self.temporalTiles(
            x, tile: tiling.sampleMinFrames + 1, step: tiling.sampleStrideFrames,
            blend: tiling.sampleMinFrames / t - tiling.sampleStrideFrames / t, keep: tiling.sampleStrideFrames / t,
            frames: (x.dim(1) - 1) / t + 1
        ) { useSpatial ? tiledEncode($0) : quantConv(encoder($0)) }
    }

    /// diffusers' `_temporal_tiled_decode`: tiles of `sampleMinFrames / 4 + 1` latent frames every
    /// `sampleStrideFrames / 4`, each decoded alone (in spatial tiles when those are on and the tile is larger than
    /// one), the first frame of every tile after the first dropped, blended over `sampleMinFrames −
    /// sampleStrideFrames` frames.
    func temporalTiledDecode(_ z: Tensor) -> Tensor {
        let (s, t) = (spatialCompression, temporalCompression)
        let useSpatial =
            tiling.useTiling && (z.dim(3) > tiling.sampleMinWidth / s || z.dim(2) > tiling.sampleMinHeight / s)
        return Self.temporalTiles(
            z, tile: tiling.sampleMinFrames / t + 1, step: tiling.sampleStrideFrames / t,
            blend: tiling.sampleMinFrames - tiling.sampleStrideFrames, keep: tiling.sampleStrideFrames,
            frames: (z.dim(1) - 1) * t + 1
        ) { useSpatial ? tiledDecode($0) : decoder(postQuantConv($0)) }
    }

    /// Rows and columns of tiles of `tile` positions starting every `step`, each through `transform`, blended with the
    /// tile above over `blend.0` rows and the tile to the left over `blend.1` columns, cut to `keep`, joined and cut to
    /// `size`.
    static func spatialTiles(
        _ x: Tensor, tile: (Int, Int), step: (Int, Int), blend: (Int, Int), keep: (Int, Int), size: (Int, Int),
        _ transform: (Tensor) -> Tensor
    ) -> Tensor {
        precondition(step.0 > 0 && step.1 > 0, "AutoencoderKLHunyuanVideo: tile strides must be positive, got \(step)")
        var rows: [[Tensor]] = stride(from: 0, to: x.dim(2), by: step.0).map { i in
            stride(from: 0, to: x.dim(3), by: step.1).map { j in
                transform(x[.all, .all, i..<Swift.min(i + tile.0, x.dim(2)), j..<Swift.min(j + tile.1, x.dim(3))])
            }
        }
        var joinedRows: [Tensor] = []
        for i in rows.indices {
            for j in rows[i].indices {
                if i > 0 { rows[i][j] = blended(rows[i - 1][j], rows[i][j], extent: blend.0, axis: 2) }
                if j > 0 { rows[i][j] = blended(rows[i][j - 1], rows[i][j], extent: blend.1, axis: 3) }
            }
            joinedRows.append(concatenated(rows[i].map { $0[.all, .all, ..<keep.0, ..<keep.1] }, axis: 3))
        }
        return concatenated(joinedRows, axis: 2)[.all, .all, ..<size.0, ..<size.1]
    }

    /// Tiles of `tile` frames starting every `step`, each through `transform`, the first output frame of every tile
    /// after the first dropped, blended with the previous tile over `blend` frames, cut to `keep` frames (one more
    /// for the first tile), joined and cut to `frames`.
    static func temporalTiles(
        _ x: Tensor, tile: Int, step: Int, blend: Int, keep: Int, frames: Int, _ transform: (Tensor) -> Tensor
    ) -> Tensor {
        precondition(step > 0, "AutoencoderKLHunyuanVideo: the frame stride must be positive, got \(step)")
        var tiles: [Tensor?] = stride(from: 0, to: x.dim(1), by: step).map { i in
            let out = transform(x[.all, i..<Swift.min(i + tile, x.dim(1))])
            guard i > 0 else { return out }
            return out.dim(1) > 1 ? out[.all, 1...] : nil  // nil: diffusers' empty tile, which adds nothing
        }
        var pieces: [Tensor] = []
        for i in tiles.indices {
            guard let current = tiles[i] else { continue }
            if i == 0 {
                pieces.append(current[.all, ..<(keep + 1)])
                continue
            }
            let mixed = tiles[i - 1].map { blended($0, current, extent: blend, axis: 1) } ?? current
            tiles[i] = mixed
            pieces.append(mixed[.all, ..<keep])
        }
        return concatenated(pieces, axis: 1)[.all, ..<frames]
    }

    /// diffusers' `blend_v`/`blend_h`/`blend_t`: the first e = min(extent, both lengths) slices of `b` along `axis`
    /// fade in from the last e of `a`, `a[−e + y]·(1 − y/e) + b[y]·(y/e)`.
    static func blended(_ a: Tensor, _ b: Tensor, extent: Int, axis: Int) -> Tensor {
        let e = Swift.min(a.dim(axis), b.dim(axis), extent)
        guard e > 0 else { return b }
        var shape = Array(repeating: 1, count: b.ndim)
        shape[axis] = e
        let weight = Tensor((0..<e).map { Float($0) / Float(e) }, shape: shape).asType(b.dtype)
        let n = a.dim(axis)
        let tail = a.sliced(axis: axis, n - e..<n)
        let head = tail * (1 - weight) + b.sliced(axis: axis, 0..<e) * weight
        return e == b.dim(axis) ? head : concatenated([head, b.sliced(axis: axis, e..<b.dim(axis))], axis: axis)
    }
}

extension Tensor {
    /// The slices `range` along `axis`.
    fileprivate func sliced(axis: Int, _ range: Range<Int>) -> Tensor {
        var start = Array(repeating: 0, count: ndim)
        var stop = shape
        start[axis] = range.lowerBound
        stop[axis] = range.upperBound
        return sliced(start: start, stop: stop)
    }
}
