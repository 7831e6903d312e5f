import Engine

/// Which positions of `rm_head`'s per-token logits become a sequence's reward: the end of VideoAlign's
/// `Qwen2VLRewardModelBT.forward`.
/// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/models/videoalign/trainer.py#L150
///
/// - `special` (the released checkpoint): per row the positions whose token is one of the three reward tokens
///   (`<|VQ_reward|>`, `<|MQ_reward|>`, `<|TA_reward|>`), in sequence order; with `output_dim` 3 each token's own
///   column (the diagonal of `[3, 3]`), otherwise the three rows of `output_dim` values flattened. The seed gathers
///   them over the whole batch and views `[B, 3, N]`, which is only a per-row reading when every row holds exactly
///   three; this requires it.
/// - `last`: the position before the first pad token (`argmax(ids == pad) − 1`, modulo the length: the last
///   position when a row has no pad).
/// - `mean`: the mean over positions `0 ..< that index` (the seed's slice leaves that last position out).
public struct VideoRewardPooling: Sendable, Equatable {
    public enum Mode: String, Sendable { case last, mean, special }

    public var mode: Mode
    /// `rm_head`'s outputs per position.
    public var outputDim: Int
    /// The reward tokens' ids (any order: rows are read in sequence order); used by `special`.
    public var specialTokenIDs: [Int]
    /// The tokenizer's pad id (Qwen2-VL's `<|endoftext|>`, 151643); used by `last` and `mean`.
    public var padTokenID: Int

    public init(mode: Mode, outputDim: Int = 1, specialTokenIDs: [Int] = [], padTokenID: Int = 151_643) {
        self.mode = mode
        self.outputDim = outputDim
        self.specialTokenIDs = specialTokenIDs
        self.padTokenID = padTokenID
    }

    public enum Error: Swift.Error, CustomStringConvertible, Equatable {
        case specialTokenCount(row: Int, found: Int)
        case emptyMean(row: Int)
        public var description: String {
            switch self {
            case .specialTokenCount(let row, let found):
                return "VideoRewardPooling: row \(row) holds \(found) reward tokens, expected exactly 3 "
                    + "(<|VQ_reward|>, <|MQ_reward|>, <|TA_reward|>)"
            case .emptyMean(let row):
                return "VideoRewardPooling: row \(row) has no position before its last token to average"
            }
        }
    }

    /// The width of a pooled row.
    public var outputWidth: Int { mode == .special && outputDim != 3 ? 3 * outputDim : outputDim }

    /// `[B, L, outputDim]` logits of the rows `ids` → `[B, outputWidth]`.
    public func callAsFunction(_ logits: Tensor, ids: [[Int]]) throws -> Tensor {
        let (batch, length) = (logits.dim(0), logits.dim(1))
        precondition(
            logits.ndim == 3 && logits.dim(2) == outputDim && ids.count == batch
                && ids.allSatisfy { $0.count == length },
            "VideoRewardPooling: logits \(logits.shape) do not match \(ids.count) rows of ids × \(outputDim)")
        let flat = logits.reshaped([batch * length, outputDim])
        switch mode {
        case .special:
            let special = Set(specialTokenIDs)
            var rows: [Int32] = []
            for (row, rowIDs) in ids.enumerated() {
                let positions = rowIDs.indices.filter { special.contains(rowIDs[$0]) }
                guard positions.count == 3 else { throw Error.specialTokenCount(row: row, found: positions.count) }
                rows += positions.map { Int32(row * length + $0) }
            }
            let picked = flat.take(Tensor(rows, shape: [rows.count]), axis: 0).reshaped([batch, 3, outputDim])
            guard outputDim == 3 else { return picked.reshaped([batch, 3 * outputDim]) }
            let diagonal = Tensor([Int32(0), 4, 8], shape: [3])
            return picked.reshaped([batch, 9]).take(diagonal, axis: 1)
        case .last:
            let rows = ids.enumerated().map { Int32($0.offset * length + lastIndex($0.element)) }
            return flat.take(Tensor(rows, shape: [batch]), axis: 0)
        case .mean:
            var means: [Tensor] = []
            for (row, rowIDs) in ids.enumerated() {
                let count = min(max(lastIndex(rowIDs), 0), length - 1)
                guard count > 0 else { throw Error.emptyMean(row: row) }
                means.append(logits[row, 0..<count].mean(axis: 0, keepDims: true))
            }
            return concatenated(means, axis: 0)
        }
    }

    /// `(argmax(ids == pad) − 1) mod L`: the last real position of a right-padded row.
    func lastIndex(_ ids: [Int]) -> Int {
        let firstPad = ids.firstIndex(of: padTokenID) ?? 0
        return (firstPad - 1 + ids.count) % ids.count
    }
}
