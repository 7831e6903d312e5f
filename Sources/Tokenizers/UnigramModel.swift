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
    /// Ids of the pieces `<0x00>`…`<0xFF>` when the model has byte fallback: an unknown stretch of text then becomes
    /// its UTF-8 bytes instead of `unknownID`.
    private let byteIDs: [Int]?

    /// - Parameters:
    ///   - pieces: every vocabulary entry, by id: its UTF-8 text, score, and whether the lattice uses it.
    ///   - byteIDs: the 256 byte pieces' ids, in byte order, for byte fallback; nil without it.
    init(
        pieces: [(bytes: [UInt8], score: Float, inLattice: Bool)], userDefined: Set<Int> = [], unused: Set<Int> = [],
        normalScoreIDs: [Int], unknownID: Int, arithmetic: Arithmetic, byteIDs: [Int]? = nil
    ) {
        precondition(byteIDs == nil || byteIDs!.count == 256, "UnigramModel: byte fallback needs 256 byte pieces")
        self.byteIDs = byteIDs
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
    /// merge them, or with byte fallback as the UTF-8 bytes of those characters (SentencePiece's
    /// `PopulateSentencePieceText` and transformers' `Unigram::tokenize` both expand the merged stretch byte by byte).
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
                    bestID[end] = Self.unknownCharacter
                }
            }
            start += characterLength
        }
        var ids: [Int] = []
        var lastWasUnknown = false
        var end = size
        while end > 0 {
            let id = bestID[end]
            let start = bestStart[end]
            if id != Self.unknownCharacter {
                ids.append(id)
            } else if let byteIDs {
                // Backwards, as the path is read from the end.
                ids += text[start..<end].reversed().map { byteIDs[Int($0)] }
            } else if !lastWasUnknown {
                ids.append(unknownID)
            }
            lastWasUnknown = id == Self.unknownCharacter
            end = start
        }
        return ids.reversed()
    }

    /// The ids of the pieces `<0x00>`…`<0xFF>` (as SentencePiece names them), or nil unless all 256 are there.
    static func bytePieceIDs(_ pieceIDs: [String: Int]) -> [Int]? {
        let hex = Array("0123456789ABCDEF")
        let ids = (0..<256).map { pieceIDs["<0x\(hex[$0 >> 4])\(hex[$0 & 15])>"] }
        guard ids.allSatisfy({ $0 != nil }) else { return nil }
        return ids.map { $0! }
    }

    /// `bestID` of a character no piece covers (kept apart from a piece that happens to be the unknown piece).
    private static let unknownCharacter = -2

    private func store(_ score: Double) -> Double {
        switch arithmetic {
        case .sentencePiece: return Double(Float(score))
        case .huggingFace: return score
        }
    }
}
