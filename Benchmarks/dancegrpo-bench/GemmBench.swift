import Engine

/// Single-precision matrix products through the engine (MLX → cblas_sgemm).
enum GemmBench {
    static let sizes = [256, 512, 1024]

    /// GFLOP/s of an n×n by n×n product: 2n³ floating-point operations over the median time.
    static func gigaflops(size n: Int, warmup: Int, repeats: Int) -> Double {
        let a = Random.normal([n, n], key: RandomKey(seed: UInt64(n)))
        let b = Random.normal([n, n], key: RandomKey(seed: UInt64(n) + 1))
        eval(a, b)
        let seconds = medianSeconds(warmup: warmup, repeats: repeats) { eval(a.matmul(b)) }
        return 2 * Double(n) * Double(n) * Double(n) / seconds / 1e9
    }
}
