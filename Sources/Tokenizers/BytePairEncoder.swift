// Byte-pair encoding of one pre-tokenized word, with CLIP's end-of-word marker: the last symbol of a word carries
// "</w>", so "a" inside a word and "a" ending it are different symbols. Qwen2's BPE has no marker (an empty suffix).

struct BytePairEncoder: Sendable {
    /// Token string → id.
    let vocabulary: [String: Int]
    /// Merge rules keyed by the pair of ids they join: the rule's rank (lower merges first) and the merged id.
    private let merges: [PairKey: (rank: Int, merged: Int)]
    /// Ids of the single-byte symbols, inside a word and at its end (indexed by byte).
    private let byteIDs: [Int?]
    private let finalByteIDs: [Int?]
    /// Substituted for a symbol missing from the vocabulary (transformers does this; open_clip would fail).
    let unknownID: Int?

    private struct PairKey: Hashable {
        let left: Int
        let right: Int
    }

    static let endOfWord = "</w>"

    /// `mergeRules` lists the pairs in rank order, each as its two symbol strings; `endOfWordSuffix` is what the
    /// last symbol of a word carries ("" for none).
    init(
        vocabulary: [String: Int], mergeRules: [(String, String)], unknownID: Int?, source: String,
        endOfWordSuffix: String = endOfWord
    ) throws {
        self.vocabulary = vocabulary
        self.unknownID = unknownID
        var merges: [PairKey: (rank: Int, merged: Int)] = [:]
        merges.reserveCapacity(mergeRules.count)
        for (rank, (left, right)) in mergeRules.enumerated() {
            guard let leftID = vocabulary[left], let rightID = vocabulary[right],
                let mergedID = vocabulary[left + right]
            else {
                throw TokenizerError.invalidFile(
                    path: source,
                    reason: "merge rule \(rank + 1) \"\(left) \(right)\" uses a token missing from the vocabulary")
            }
            let key = PairKey(left: leftID, right: rightID)
            // The first occurrence of a duplicated rule keeps its rank, as in the references.
            if merges[key] == nil { merges[key] = (rank, mergedID) }
        }
        self.merges = merges
        byteIDs = ByteLevelAlphabet.characters.map { vocabulary[String($0)] }
        finalByteIDs = ByteLevelAlphabet.characters.map { vocabulary[String($0) + endOfWordSuffix] }
    }

    /// Token ids of one word given as UTF-8 bytes.
    func encode(wordBytes bytes: [UInt8]) -> [Int] {
        guard !bytes.isEmpty else { return [] }
        var symbols: [Int] = []
        symbols.reserveCapacity(bytes.count)
        for (index, byte) in bytes.enumerated() {
            let id = index == bytes.count - 1 ? finalByteIDs[Int(byte)] : byteIDs[Int(byte)]
            if let id = id ?? unknownID { symbols.append(id) }
        }
        // Repeatedly apply the best-ranked merge present, to every non-overlapping occurrence left to right
        // (open_clip's loop; transformers' priority queue gives the same result).
        while symbols.count > 1 {
            var best: (rank: Int, left: Int, right: Int, merged: Int)?
            for i in 0..<(symbols.count - 1) {
                if let merge = merges[PairKey(left: symbols[i], right: symbols[i + 1])],
                    merge.rank < (best?.rank ?? Int.max)
                {
                    best = (merge.rank, symbols[i], symbols[i + 1], merge.merged)
                }
            }
            guard let best else { break }
            var merged: [Int] = []
            merged.reserveCapacity(symbols.count)
            var i = 0
            while i < symbols.count {
                if i + 1 < symbols.count, symbols[i] == best.left, symbols[i + 1] == best.right {
                    merged.append(best.merged)
                    i += 2
                } else {
                    merged.append(symbols[i])
                    i += 1
                }
            }
            symbols = merged
        }
        return symbols
    }
}
