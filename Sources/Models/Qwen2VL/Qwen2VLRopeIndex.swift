import Engine

// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/models/qwen2_vl/modeling_qwen2_vl.py#L895
/// transformers 5's Qwen2-VL (version 1) `get_rope_index` for images and videos: the `[3, B, L]` (temporal, height,
/// width) M-RoPE positions. Over each row's real tokens, text counts on from the current position in all three
/// rows; an image or video of `(t, h, w)` patches becomes `t × (h/m) × (w/m)` merged tokens at (start + frame,
/// start + row, start + column) — version 1 steps the temporal row by one per temporal patch, with no
/// seconds-per-grid scaling — and the text after it starts at `start + max(h, w) / m`. (transformers 4.46, the
/// seed's, started it one past the largest position instead, which differs when a video has more temporal patches
/// than merged rows or columns.) Padding keeps position 0.
///
/// VideoAlign's reward model does not use these (``VideoRewardModel``); Qwen2-VL generation does.
public enum Qwen2VLRopeIndex {
    /// - ids: each row's token ids; attentionMask: 1 for real tokens (nil: all real).
    /// - imageGrids / videoGrids: `(t, h, w)` patch grids in the order their runs appear, row after row.
    public static func positionIDs(
        ids: [[Int]], attentionMask: [[Int]]? = nil, imageTokenID: Int, videoTokenID: Int,
        imageGrids: [(t: Int, h: Int, w: Int)] = [], videoGrids: [(t: Int, h: Int, w: Int)] = [],
        spatialMergeSize: Int
    ) -> Tensor {
        let batch = ids.count
        let length = ids.first?.count ?? 0
        let m = spatialMergeSize
        var positions = [Int32](repeating: 0, count: 3 * batch * length)
        var next = [imageTokenID: 0, videoTokenID: 0]
        let grids = [imageTokenID: imageGrids, videoTokenID: videoGrids]
        for (row, rowIDs) in ids.enumerated() {
            precondition(rowIDs.count == length, "Qwen2VLRopeIndex: rows of different lengths")
            let real = (0..<length).filter { attentionMask?[row][$0] != 0 }
            func set(_ p: Int, _ t: Int, _ h: Int, _ w: Int) {
                positions[(0 * batch + row) * length + p] = Int32(t)
                positions[(1 * batch + row) * length + p] = Int32(h)
                positions[(2 * batch + row) * length + p] = Int32(w)
            }
            var current = 0
            var k = 0
            while k < real.count {
                let token = rowIDs[real[k]]
                guard let list = grids[token] else {
                    set(real[k], current, current, current)
                    current += 1
                    k += 1
                    continue
                }
                let kind = token == videoTokenID ? "video" : "image"
                precondition(
                    next[token]! < list.count, "Qwen2VLRopeIndex: more \(kind) runs than the \(list.count) grids")
                let grid = list[next[token]!]
                next[token]! += 1
                let (gh, gw) = (grid.h / m, grid.w / m)
                let count = grid.t * gh * gw
                precondition(
                    k + count <= real.count && (k..<(k + count)).allSatisfy { rowIDs[real[$0]] == token },
                    "Qwen2VLRopeIndex: \(kind) of grid \(grid) needs \(count) tokens in a row")
                for index in 0..<count {
                    let (frame, cell) = (index / (gh * gw), index % (gh * gw))
                    set(real[k + index], current + frame, current + cell / gw, current + cell % gw)
                }
                current += max(grid.h, grid.w) / m
                k += count
            }
        }
        return Tensor(positions, shape: [3, batch, length])
    }
}
