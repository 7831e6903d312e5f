/// SplitMix64: a tiny, fast, well-mixed generator. The shapes world and the order of prompt files use its own
/// integer and float draws (not the standard library's `random(in:using:)`, whose algorithm may change between
/// Swift releases) so that a seed gives the same prompts and pixels on every platform and toolchain.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform integer in 0..<bound (rejection sampling, so no modulo bias).
    public mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0, "bound must be positive, got \(bound)")
        let b = UInt64(bound)
        let limit = UInt64.max - UInt64.max % b
        while true {
            let v = next()
            if v < limit { return Int(v % b) }
        }
    }

    /// Uniform integer in the closed range.
    public mutating func integer(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + below(range.upperBound - range.lowerBound + 1)
    }

    /// Uniform double in [0, 1) with 53 random bits.
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// A seed for an independent stream, derived from this seed and a salt (e.g. the index of an image in a batch).
    public static func derive(_ seed: UInt64, _ salt: UInt64) -> UInt64 {
        var g = SeededGenerator(seed: seed ^ (salt &* 0xD6E8_FEB8_6659_FD93))
        return g.next()
    }
}
