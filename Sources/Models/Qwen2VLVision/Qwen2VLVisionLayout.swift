import Engine

// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/vision_utils.py
/// Where each patch of a `pixel_values` batch sits and which patches attend to each other: transformers'
/// `get_vision_position_ids`, `get_vision_cu_seqlens` and `get_vision_window_index` for `grid_thw`, computed on the
/// host (they are integer bookkeeping).
///
/// Patches arrive in the image processor's order: per image, per frame, merged token by merged token in raster order
/// (`[h/m, w/m]`), and inside a token its m × m patches in raster order. transformers reorders the merged tokens
/// window by window before the blocks and back after the merger; attention is restricted to consecutive runs
/// (`cu_seqlens`) of that order. Attention does not depend on the order of its tokens, only on which tokens share a
/// run, so the model here keeps the processor's order and gives each patch the id of its run (``fullSegments``,
/// ``windowSegments``), from which ``runs(_:)`` batches each run: the same outputs without the two permutations.
public struct Qwen2VLVisionLayout: Sendable {
    /// `(t, h, w)` of each image in patches, as `image_grid_thw`.
    public let grids: [(t: Int, h: Int, w: Int)]
    /// `[(h, w)]` patch row and column of each patch, in the processor's order (`position_ids`).
    public let positions: [(h: Int, w: Int)]
    /// transformers' `window_index`: merged-token indices in window order.
    public let windowIndex: [Int]
    /// transformers' `cu_window_seqlens`: patch boundaries of the windows in window order (consecutive duplicates
    /// removed, as `unique_consecutive` does).
    public let cuWindowSeqlens: [Int]
    /// transformers' `cu_seqlens`: patch boundaries of the frames (full attention runs over one frame of one image).
    public let cuSeqlens: [Int]
    /// Per patch (processor order), the full-attention run it belongs to.
    public let fullSegments: [Int]
    /// Per patch (processor order), the window it belongs to.
    public let windowSegments: [Int]

    public var patchCount: Int { positions.count }

    /// The layout of a Qwen2.5-VL tower: windows of the config's `window_size`.
    public init(grids: [(t: Int, h: Int, w: Int)], config: Qwen2VLVisionConfig) {
        self.init(grids: grids, spatialMergeSize: config.spatialMergeSize, mergedWindowSize: config.mergedWindowSize)
    }

    /// The layout of merge units of `spatialMergeSize`² patches and windows of `mergedWindowSize`² merge units (a
    /// tower without windows, as Qwen2-VL's, attends over ``fullSegments`` only).
    public init(grids: [(t: Int, h: Int, w: Int)], spatialMergeSize m: Int, mergedWindowSize window: Int) {
        let unit = m * m
        for g in grids {
            precondition(
                g.t >= 1 && g.h >= m && g.w >= m && g.h % m == 0 && g.w % m == 0,
                "Qwen2VLVisionLayout: grid \(g) must be positive multiples of spatial_merge_size \(m)")
        }
        self.grids = grids
        var positions: [(Int, Int)] = []
        var windowIndex: [Int] = []
        var cuWindow = [0]
        var cuFull = [0]
        var offset = 0
        for (t, h, w) in grids {
            // Positions, block-major over the m × m merge blocks, repeated for every frame.
            var frame: [(Int, Int)] = []
            for bh in 0..<(h / m) {
                for bw in 0..<(w / m) {
                    for ih in 0..<m { for iw in 0..<m { frame.append((bh * m + ih, bw * m + iw)) } }
                }
            }
            for _ in 0..<t {
                positions += frame
                cuFull.append(cuFull.last! + h * w)
            }
            // Square windows of `window` merged tokens a side, the grid padded up to whole windows at the bottom and
            // right (a full extra window when it divides evenly, as transformers pads; empty windows add no boundary).
            let (lh, lw) = (h / m, w / m)
            let (windowsH, windowsW) = ((lh + window - lh % window) / window, (lw + window - lw % window) / window)
            for f in 0..<t {
                for wh in 0..<windowsH {
                    for ww in 0..<windowsW {
                        var count = 0
                        for r in (wh * window)..<min((wh + 1) * window, lh) {
                            for c in (ww * window)..<min((ww + 1) * window, lw) {
                                windowIndex.append(offset + f * lh * lw + r * lw + c)
                                count += 1
                            }
                        }
                        if count > 0 { cuWindow.append(cuWindow.last! + count * unit) }
                    }
                }
            }
            offset += t * lh * lw
        }
        self.positions = positions
        self.windowIndex = windowIndex
        self.cuWindowSeqlens = cuWindow
        self.cuSeqlens = cuFull
        fullSegments = Self.segments(cuFull, order: nil, unit: unit)
        windowSegments = Self.segments(cuWindow, order: windowIndex, unit: unit)
    }

    /// Run ids per patch in processor order, for runs given as boundaries over the order `order` of merged tokens
    /// (nil: the processor's own order).
    private static func segments(_ cu: [Int], order: [Int]?, unit: Int) -> [Int] {
        var ids = [Int](repeating: 0, count: cu.last!)
        for s in 0..<(cu.count - 1) {
            for p in cu[s]..<cu[s + 1] {
                let patch = order.map { $0[p / unit] * unit + p % unit } ?? p
                ids[patch] = s
            }
        }
        return ids
    }

    /// The runs of `segments` (a run id per patch) as one padded batch for attention.
    public static func runs(_ segments: [Int]) -> Qwen2VLAttentionRuns {
        var members: [[Int]] = []
        for (patch, run) in segments.enumerated() {
            while members.count <= run { members.append([]) }
            members[run].append(patch)
        }
        members.removeAll { $0.isEmpty }
        guard members.count > 1 else { return Qwen2VLAttentionRuns(count: 1, length: segments.count) }
        let length = members.map(\.count).max()!
        var gather = [Int32](repeating: 0, count: members.count * length)
        var scatter = [Int32](repeating: 0, count: segments.count)
        var valid = [Bool](repeating: false, count: members.count * length)
        for (r, run) in members.enumerated() {
            for (i, patch) in run.enumerated() {
                gather[r * length + i] = Int32(patch)
                scatter[patch] = Int32(r * length + i)
                valid[r * length + i] = true
            }
        }
        return Qwen2VLAttentionRuns(
            count: members.count, length: length, gather: Tensor(gather, shape: [gather.count]),
            scatter: Tensor(scatter, shape: [scatter.count]),
            keyMask: valid.allSatisfy { $0 } ? nil : Tensor(valid, shape: [members.count, 1, 1, length]))
    }
}

/// Which patches attend to each other, as a batch: every run (window or frame) gathered into a row of `length`
/// patches, shorter runs padded and their padding masked out as keys, so that attention costs Σ run² rather than
/// L². One run needs no gathering.
public struct Qwen2VLAttentionRuns {
    public let count: Int
    public let length: Int
    /// `[count · length]` patch indices (processor order) of each run's slots; padding slots read patch 0.
    let gather: Tensor?
    /// `[L]` each patch's slot in the batch.
    let scatter: Tensor?
    /// `[count, 1, 1, length]` true for real keys; nil when no run is padded.
    let keyMask: Tensor?
    public var isPadded: Bool { keyMask != nil }

    init(count: Int, length: Int, gather: Tensor? = nil, scatter: Tensor? = nil, keyMask: Tensor? = nil) {
        (self.count, self.length, self.gather, self.scatter, self.keyMask) = (count, length, gather, scatter, keyMask)
    }
}
