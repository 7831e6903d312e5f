/// One LZ77 output item: a literal byte (`distance == 0`) or a back-reference of `length` bytes.
struct LZ77Token {
    var literalOrLength: UInt16
    var distance: UInt16

    static func literal(_ byte: UInt8) -> LZ77Token { LZ77Token(literalOrLength: UInt16(byte), distance: 0) }
    var isLiteral: Bool { distance == 0 }
}

/// Greedy-with-lazy-evaluation LZ77 parsing over a 32 KiB window, with hash chains on 3-byte prefixes.
///
/// Lazy evaluation: before taking a match at position i, look at i + 1; if a longer match starts there, emit the
/// byte at i as a literal instead. This is the same idea zlib uses and gains a few percent on image rows.
struct LZ77Matcher {
    static let windowSize = 1 << 15
    static let minMatch = 3
    static let maxMatch = 258
    private static let hashBits = 15

    /// How many earlier positions with the same hash are tried per match search (speed against ratio).
    let maxChainLength: Int
    /// A match at least this long is taken without trying the next position.
    let lazyLimit: Int

    init(maxChainLength: Int = 128, lazyLimit: Int = 32) {
        self.maxChainLength = maxChainLength
        self.lazyLimit = lazyLimit
    }

    func tokens(for data: [UInt8]) -> [LZ77Token] {
        var tokens: [LZ77Token] = []
        tokens.reserveCapacity(data.count / 2 + 16)
        let n = data.count
        guard n > 0 else { return tokens }
        let windowMask = Self.windowSize - 1
        var head = [Int32](repeating: -1, count: 1 << Self.hashBits)
        var previous = [Int32](repeating: -1, count: Self.windowSize)
        data.withUnsafeBufferPointer { bytes in
            head.withUnsafeMutableBufferPointer { head in
                previous.withUnsafeMutableBufferPointer { previous in
                    @inline(__always) func hash(_ i: Int) -> Int {
                        let key = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
                        return Int((key &* 2_654_435_761) >> UInt32(32 - Self.hashBits))
                    }
                    @inline(__always) func insert(_ i: Int) {
                        guard i + 2 < n else { return }
                        let h = hash(i)
                        previous[i & windowMask] = head[h]
                        head[h] = Int32(i)
                    }
                    func longestMatch(at i: Int) -> (length: Int, distance: Int) {
                        guard i + 2 < n else { return (0, 0) }
                        let limit = min(Self.maxMatch, n - i)
                        var best = 0, bestDistance = 0
                        var candidate = Int(head[hash(i)])
                        var chain = maxChainLength
                        while candidate >= 0 && chain > 0 {
                            let distance = i - candidate
                            if distance > Self.windowSize || distance <= 0 { break }
                            // Only a candidate that beats the best so far at its last byte can be longer.
                            if bytes[candidate + best] == bytes[i + best] || best == 0 {
                                var length = 0
                                while length < limit && bytes[candidate + length] == bytes[i + length] { length += 1 }
                                if length > best {
                                    best = length
                                    bestDistance = distance
                                    if length == limit { break }
                                }
                            }
                            let next = Int(previous[candidate & windowMask])
                            // The chain slot may have been reused by a newer position: stop at non-decreasing links.
                            if next >= candidate { break }
                            candidate = next
                            chain -= 1
                        }
                        return best >= Self.minMatch ? (best, bestDistance) : (0, 0)
                    }

                    var i = 0
                    var cached: (length: Int, distance: Int)? = nil
                    while i < n {
                        let match = cached ?? longestMatch(at: i)
                        cached = nil
                        insert(i)
                        guard match.length >= Self.minMatch else {
                            tokens.append(.literal(bytes[i]))
                            i += 1
                            continue
                        }
                        if match.length < lazyLimit && i + 1 < n {
                            let next = longestMatch(at: i + 1)
                            if next.length > match.length {
                                tokens.append(.literal(bytes[i]))
                                i += 1
                                cached = next
                                continue
                            }
                        }
                        tokens.append(LZ77Token(literalOrLength: UInt16(match.length), distance: UInt16(match.distance)))
                        for j in (i + 1)..<(i + match.length) { insert(j) }
                        i += match.length
                    }
                }
            }
        }
        return tokens
    }
}
