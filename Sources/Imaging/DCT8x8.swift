import Foundation

/// The orthonormal 8×8 type-II DCT of JPEG and its inverse, as two matrix products with a precomputed basis.
enum DCT8x8 {
    /// basis[u * 8 + x] = C(u)/2 · cos((2x + 1)uπ/16), with C(0) = 1/√2 and C(u) = 1 otherwise.
    static let basis: [Float] = (0..<64).map { i in
        let u = i / 8, x = i % 8
        let c: Double = u == 0 ? 1 / 2.0.squareRoot() : 1
        return Float(c / 2 * cos(Double(2 * x + 1) * Double(u) * .pi / 16))
    }

    /// Spatial block (natural order) → coefficients (natural order): F = B · f · Bᵀ.
    static func forward(_ block: inout [Float]) {
        transform(&block, inverse: false)
    }

    /// Coefficients → spatial block: f = Bᵀ · F · B.
    static func inverse(_ block: inout [Float]) {
        transform(&block, inverse: true)
    }

    private static func transform(_ block: inout [Float], inverse: Bool) {
        var temp = [Float](repeating: 0, count: 64)
        basis.withUnsafeBufferPointer { b in
            // Rows: temp[y][u] = Σx block[y][x] · M[u][x], where M = B (forward) or Bᵀ (inverse).
            for y in 0..<8 {
                for u in 0..<8 {
                    var sum: Float = 0
                    for x in 0..<8 { sum += block[y * 8 + x] * (inverse ? b[x * 8 + u] : b[u * 8 + x]) }
                    temp[y * 8 + u] = sum
                }
            }
            // Columns: block[v][u] = Σy M[v][y] · temp[y][u].
            for v in 0..<8 {
                for u in 0..<8 {
                    var sum: Float = 0
                    for y in 0..<8 { sum += (inverse ? b[y * 8 + v] : b[v * 8 + y]) * temp[y * 8 + u] }
                    block[v * 8 + u] = sum
                }
            }
        }
    }
}
