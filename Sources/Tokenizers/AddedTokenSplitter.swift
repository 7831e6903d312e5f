/// Cuts a text at its added tokens before any other step, as tokenizers' `AddedVocabulary` does for the byte-level
/// BPE tokenizers (Qwen2, Llama 3): at each position the longest added token that matches wins, and the stretches
/// between matches go to the tokenizer's own pipeline.
struct AddedTokenSplitter: Sendable {
    /// Added tokens by decreasing length, as scalars, for the leftmost-longest match.
    private let byLength: [(scalars: Scalars, id: Int)]

    init(_ tokens: [Qwen2Tokenizer.AddedToken]) {
        byLength = tokens.map { (Scalars($0.content), $0.id) }.filter { !$0.0.isEmpty }
            .sorted { $0.0.count > $1.0.count }
    }

    /// The ids of `text`: each added token's own id, and `encode` of every stretch between them.
    func ids(_ text: String, encode: (Scalars) -> [Int]) -> [Int] {
        let scalars = Scalars(text)
        var ids: [Int] = []
        var segmentStart = 0
        var i = 0
        func flush(upTo end: Int) {
            guard end > segmentStart else { return }
            ids += encode(Scalars(scalars[segmentStart..<end]))
        }
        while i < scalars.count {
            if let match = byLength.first(where: { matches($0.scalars, in: scalars, at: i) }) {
                flush(upTo: i)
                ids.append(match.id)
                i += match.scalars.count
                segmentStart = i
            } else {
                i += 1
            }
        }
        flush(upTo: scalars.count)
        return ids
    }

    private func matches(_ literal: Scalars, in text: Scalars, at start: Int) -> Bool {
        guard start + literal.count <= text.count else { return false }
        for (offset, scalar) in literal.enumerated() where text[start + offset] != scalar { return false }
        return true
    }
}
