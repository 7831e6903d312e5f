// The unigram language model's best segmentation (Viterbi over every vocabulary piece that matches the text), as
// SentencePiece's `EncodeOptimized` and transformers' `Unigram.encode_optimized` compute it.

struct UnigramModel: Sendable {
    enum Arithmetic: Sendable {
        /// SentencePiece: path scores stored as Float; a piece's candidate is summed in Double, the unknown
        /// character's in Float (what the C++ expression types give).
        case sentencePiece
        /// transformers: everything in Double.
        case huggingFace
    }

    private let trie: PieceTrie
    private let scores: [Float]
    /// Pieces that match but never win on their own score: user-defined symbols get a bonus, unused ones are skipped.
    private let userDefined: Set<Int>
    private let unused: Set<Int>
    let unknownID: Int
    private let unknownScore: Float
    private let maxScore: Float
    private let arithmetic: Arithmetic

    /// - Parameters:
    ///   - pieces: every vocabulary entry, by id: its UTF-8 text, score, and whether the lattice uses it.
    init(
        pieces: [(bytes: [UInt8], score: Float, inLattice: Bool)], userDefined: Set<Int> = [], unused: Set<Int> = [],
        normalScoreIDs: [Int], unknownID: Int, arithmetic: Arithmetic
    ) {
        trie = PieceTrie(pieces.enumerated().lazy.filter { $0.element.inLattice }.map { ($0.element.bytes, $0.offset) })
        self.userDefined = userDefined
        self.unused = unused
        self.unknownID = unknownID
        self.arithmetic = arithmetic
        let pieceScores = pieces.map(\.score)
        let normalScores = normalScoreIDs.map { pieceScores[$0] }
        scores = pieceScores
        let minScore = normalScores.min() ?? 0
        maxScore = normalScores.max() ?? 0
        // kUnkPenalty in both references.
        unknownScore = minScore - 10
    }

    /// Ids of the best segmentation; consecutive unknown characters come out as one unknown id, as both references
    /// merge them.
    func encode(_ text: [UInt8]) -> [Int] {
        guard !text.isEmpty else { return [] }
        let size = text.count
        var bestScore = [Double](repeating: 0, count: size + 1)
        var bestStart = [Int](repeating: -1, count: size + 1)
        var bestID = [Int](repeating: -1, count: size + 1)
        var start = 0
        while start < size {
            let scoreHere = bestScore[start]
            let characterLength = min(UTF8Text.sequenceLength(leadByte: text[start]), size - start)
            var coversOneCharacter = false
            trie.forEachPiece(in: text, from: start) { end, id in
                if unused.contains(id) { return }
                let candidate: Double
                let length = end - start
                if userDefined.contains(id) {
                    candidate = Double(Float(length) * maxScore) - 0.1 + scoreHere
                } else {
                    candidate = Double(scores[id]) + scoreHere
                }
                if bestStart[end] == -1 || candidate > bestScore[end] {
                    bestScore[end] = store(candidate)
                    bestStart[end] = start
                    bestID[end] = id
                }
                if length == characterLength { coversOneCharacter = true }
            }
            if !coversOneCharacter {
                let end = start + characterLength
                let candidate: Double
                switch arithmetic {
                case .sentencePiece: candidate = Double(unknownScore + Float(scoreHere))
                case .huggingFace: candidate = Double(unknownScore) + scoreHere
                }
                if bestStart[end] == -1 || candidate > bestScore[end] {
                    bestScore[end] = store(candidate)
                    bestStart[end] = start
                    bestID[end] = unknownID
                }
            }
            start += characterLength
        }
        var ids: [Int] = []
        var end = size
        while end > 0 {
            let id = bestID[end]
            if !(id == unknownID && ids.last == unknownID) { ids.append(id) }
            end = bestStart[end]
        }
        return ids.reversed()
    }

    private func store(_ score: Double) -> Double {
        switch arithmetic {
        case .sentencePiece: return Double(Float(score))
        case .huggingFace: return score
        }
    }
}
