// A byte trie from vocabulary pieces (UTF-8) to ids, walked forward from a position to find every piece that starts
// there. Pieces are compared as bytes: Swift String keys would treat canonically equivalent pieces as equal.

struct PieceTrie: Sendable {
    /// (node << 8 | byte) → child node.
    private var children: [Int: Int32] = [:]
    /// Id stored at each node, or -1.
    private var values: [Int32] = [-1]

    init() {}

    init<S: Sequence>(_ pieces: S) where S.Element == (bytes: [UInt8], id: Int) {
        for (bytes, id) in pieces { insert(bytes, id: id) }
    }

    /// The first id inserted for a piece is kept (SentencePiece rejects duplicates, transformers keeps the first).
    mutating func insert(_ bytes: [UInt8], id: Int) {
        var node = 0
        for byte in bytes {
            let key = node << 8 | Int(byte)
            if let child = children[key] {
                node = Int(child)
            } else {
                values.append(-1)
                children[key] = Int32(values.count - 1)
                node = values.count - 1
            }
        }
        if values[node] < 0 { values[node] = Int32(id) }
    }

    /// Calls `body(end, id)` for every piece equal to `bytes[start..<end]`, shortest first.
    func forEachPiece(in bytes: [UInt8], from start: Int, _ body: (_ end: Int, _ id: Int) -> Void) {
        var node = 0
        var position = start
        while position < bytes.count, let child = children[node << 8 | Int(bytes[position])] {
            node = Int(child)
            position += 1
            if values[node] >= 0 { body(position, Int(values[node])) }
        }
    }

    /// The longest piece that is a prefix of `bytes[start...]`, as (length, id).
    func longestPrefix(of bytes: [UInt8], from start: Int) -> (length: Int, id: Int)? {
        var best: (length: Int, id: Int)?
        forEachPiece(in: bytes, from: start) { end, id in best = (end - start, id) }
        return best
    }
}
