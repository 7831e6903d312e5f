import Engine

// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/models/qwen2_5_vl/modeling_qwen2_5_vl.py#L934
/// transformers' `Qwen2_5_VLModel.get_rope_index` for images: the `[3, B, L]` (temporal, height, width) rotary
/// positions of a sequence whose images sit at runs of the image token. Over each row's real tokens, text counts on
/// from the last position in all three rows; an image of `(t, h, w)` patches becomes `t × (h/m) × (w/m)` merged
/// tokens at (start, start + row, start + column) for merge size m (the temporal row stays at start for still
/// images), and the text after it starts at `start + max(h, w) / m`. Padding keeps position 0. transformers 4 found
/// the images from `<|vision_start|>`, transformers 5 from `mm_token_type_ids`; both mark the same runs of image
/// tokens.
public enum Qwen2_5_VLRopeIndex {
    /// - ids: each row's token ids; attentionMask: 1 for real tokens (nil: all real).
    /// - grids: the images' `(t, h, w)` patch grids in the order their runs appear, row after row.
    public static func positionIDs(
        ids: [[Int]], attentionMask: [[Int]]? = nil, imageTokenID: Int, grids: [(t: Int, h: Int, w: Int)],
        spatialMergeSize: Int
    ) -> Tensor {
        let batch = ids.count
        let length = ids.first?.count ?? 0
        var positions = [Int32](repeating: 0, count: 3 * batch * length)
        var nextImage = 0
        for (row, rowIDs) in ids.enumerated() {
            precondition(rowIDs.count == length, "Qwen2_5_VLRopeIndex: rows of different lengths")
            let real = (0..<length).filter { attentionMask?[row][$0] != 0 }
            var current = 0
            var k = 0
            while k < real.count {
                if rowIDs[real[k]] != imageTokenID {
                    for axis in 0..<3 { positions[(axis * batch + row) * length + real[k]] = Int32(current) }
                    current += 1
                    k += 1
                    continue
                }
                precondition(
                    nextImage < grids.count, "Qwen2_5_VLRopeIndex: more image runs than the \(grids.count) grids")
                let grid = grids[nextImage]
                nextImage += 1
                let (gh, gw) = (grid.h / spatialMergeSize, grid.w / spatialMergeSize)
                let count = grid.t * gh * gw
                precondition(
                    k + count <= real.count && (k..<(k + count)).allSatisfy { rowIDs[real[$0]] == imageTokenID },
                    "Qwen2_5_VLRopeIndex: image \(nextImage - 1) of grid \(grid) needs \(count) image tokens in a row")
                for index in 0..<count {
                    let p = real[k + index]
                    let (frame, cell) = (index / (gh * gw), index % (gh * gw))
                    positions[(0 * batch + row) * length + p] = Int32(current + frame)
                    positions[(1 * batch + row) * length + p] = Int32(current + cell / gw)
                    positions[(2 * batch + row) * length + p] = Int32(current + cell % gw)
                }
                current += max(grid.h, grid.w) / spatialMergeSize
                k += count
            }
        }
        return Tensor(positions, shape: [3, batch, length])
    }
}
