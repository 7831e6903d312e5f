/// Canonical Huffman codes as DEFLATE defines them: a code is fully described by its code lengths.
struct HuffmanCode {
    /// Code length per symbol (0 = unused).
    let lengths: [UInt8]
    /// Code per symbol, bit-reversed so it can be written least-significant bit first.
    let reversedCodes: [UInt16]

    init(lengths: [UInt8]) {
        self.lengths = lengths
        let maxLength = Int(lengths.max() ?? 0)
        var countPerLength = [Int](repeating: 0, count: maxLength + 1)
        for l in lengths where l > 0 { countPerLength[Int(l)] += 1 }
        var nextCode = [Int](repeating: 0, count: maxLength + 2)
        var code = 0
        if maxLength > 0 {
            for bits in 1...maxLength {
                code = (code + countPerLength[bits - 1]) << 1
                nextCode[bits] = code
            }
        }
        var codes = [UInt16](repeating: 0, count: lengths.count)
        for (symbol, l) in lengths.enumerated() where l > 0 {
            codes[symbol] = UInt16(Self.reverse(nextCode[Int(l)], bits: Int(l)))
            nextCode[Int(l)] += 1
        }
        reversedCodes = codes
    }

    static func reverse(_ value: Int, bits: Int) -> Int {
        var v = value, r = 0
        for _ in 0..<bits {
            r = (r << 1) | (v & 1)
            v >>= 1
        }
        return r
    }

    /// Optimal code lengths for `frequencies`, no longer than `maxLength` bits. Unused symbols get length 0. When
    /// fewer than two symbols are used, the lengths are padded to two codes of one bit, because some decoders (zlib)
    /// reject a code with a single symbol.
    static func lengths(frequencies: [Int], maxLength: Int) -> [UInt8] {
        var weights = frequencies
        while true {
            let lengths = unlimitedLengths(frequencies: weights)
            if Int(lengths.max() ?? 0) <= maxLength { return lengths }
            // Flattening the weight distribution shortens the deepest codes; halving converges quickly (all-equal
            // weights give a balanced tree) at a cost of a fraction of a percent in size, only in rare blocks.
            weights = weights.map { $0 == 0 ? 0 : max(1, $0 / 2) }
        }
    }

    /// Huffman's algorithm with two sorted queues (leaves in ascending weight, merged nodes in creation order, which
    /// is also ascending), then depths from parent links.
    private static func unlimitedLengths(frequencies: [Int]) -> [UInt8] {
        var lengths = [UInt8](repeating: 0, count: frequencies.count)
        let used = frequencies.indices.filter { frequencies[$0] > 0 }
        if used.count < 2 {
            // One or no symbol: two one-bit codes keep the code complete.
            let first = used.first ?? 0
            lengths[first] = 1
            lengths[first == 0 ? 1 : 0] = 1
            return lengths
        }
        let leaves = used.sorted { (frequencies[$0], $0) < (frequencies[$1], $1) }
        // Node ids: 0..<n are leaves (in `leaves` order), n... are internal nodes.
        let n = leaves.count
        var weight = leaves.map { frequencies[$0] }
        var parent = [Int](repeating: -1, count: 2 * n - 1)
        var nextLeaf = 0, nextInternal = n
        func takeSmallest() -> Int {
            if nextLeaf < n && (nextInternal >= weight.count || weight[nextLeaf] <= weight[nextInternal]) {
                nextLeaf += 1
                return nextLeaf - 1
            }
            nextInternal += 1
            return nextInternal - 1
        }
        for _ in 0..<(n - 1) {
            let a = takeSmallest(), b = takeSmallest()
            let node = weight.count
            weight.append(weight[a] + weight[b])
            parent[a] = node
            parent[b] = node
        }
        // The root is the last node; a node's depth is its parent's plus one, and parents come later in the array.
        var depth = [Int](repeating: 0, count: 2 * n - 1)
        for node in stride(from: 2 * n - 3, through: 0, by: -1) { depth[node] = depth[parent[node]] + 1 }
        for (i, symbol) in leaves.enumerated() { lengths[symbol] = UInt8(depth[i]) }
        return lengths
    }
}
