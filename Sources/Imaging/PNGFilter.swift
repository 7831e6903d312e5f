/// The five PNG scanline filters (PNG spec, section 9). Each predicts a byte from its left (a), upper (b) and
/// upper-left (c) neighbours at the same position of the previous pixel; `bpp` is the byte distance to "left".
enum PNGFilter: UInt8, CaseIterable {
    case none = 0, sub, up, average, paeth

    @inline(__always) static func paethPredictor(_ a: Int, _ b: Int, _ c: Int) -> Int {
        let p = a + b - c
        let pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
        if pa <= pb && pa <= pc { return a }
        return pb <= pc ? b : c
    }

    /// Writes the filtered `row` into `out` (same length); `previous` is the unfiltered row above (zeros for the first).
    static func apply(_ filter: PNGFilter, row: UnsafeBufferPointer<UInt8>, previous: UnsafeBufferPointer<UInt8>,
                      bpp: Int, into out: UnsafeMutableBufferPointer<UInt8>) {
        for i in 0..<row.count {
            let a = i >= bpp ? Int(row[i - bpp]) : 0
            let b = Int(previous[i])
            let c = i >= bpp ? Int(previous[i - bpp]) : 0
            let prediction: Int
            switch filter {
            case .none: prediction = 0
            case .sub: prediction = a
            case .up: prediction = b
            case .average: prediction = (a + b) >> 1
            case .paeth: prediction = paethPredictor(a, b, c)
            }
            out[i] = UInt8(truncatingIfNeeded: Int(row[i]) - prediction)
        }
    }

    /// Reverses `filter` in place on `row`; `previous` is the already unfiltered row above.
    static func undo(_ filter: PNGFilter, row: UnsafeMutableBufferPointer<UInt8>, previous: UnsafeBufferPointer<UInt8>, bpp: Int) {
        switch filter {
        case .none:
            return
        case .sub:
            for i in bpp..<max(bpp, row.count) { row[i] = row[i] &+ row[i - bpp] }
        case .up:
            for i in 0..<row.count { row[i] = row[i] &+ previous[i] }
        case .average:
            for i in 0..<row.count {
                let a = i >= bpp ? Int(row[i - bpp]) : 0
                row[i] = row[i] &+ UInt8((a + Int(previous[i])) >> 1)
            }
        case .paeth:
            for i in 0..<row.count {
                let a = i >= bpp ? Int(row[i - bpp]) : 0
                let c = i >= bpp ? Int(previous[i - bpp]) : 0
                row[i] = row[i] &+ UInt8(paethPredictor(a, Int(previous[i]), c))
            }
        }
    }
}
