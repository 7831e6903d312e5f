import Engine

/// Single-precision matrix products through the engine (MLX → cblas_sgemm).
enum GemmBench {
    static let sizes = [256, 512, 1024]

    /// Products per timed run: about 3 GFLOP, so one run lasts tens of milliseconds even at 256³ (a single 0.2 ms
    /// product is mostly thread wake-up and timer noise). tools/bench/torch_bench.py uses the same count.
    static func productsPerRun(size n: Int) -> Int {
        max(1, Int((3e9 / (2 * Double(n) * Double(n) * Double(n))).rounded(.up)))
    }

    /// GFLOP/s of n×n by n×n products: 2n³ floating-point operations each, over the median time per product.
    static func gigaflops(size n: Int, warmup: Int, repeats: Int) -> Double {
        let a = Random.normal([n, n], key: RandomKey(seed: UInt64(n)))
        let b = Random.normal([n, n], key: RandomKey(seed: UInt64(n) + 1))
        eval(a, b)
        let count = productsPerRun(size: n)
        let seconds = medianSeconds(warmup: warmup, repeats: repeats) {
            for _ in 0..<count { eval(a.matmul(b)) }
        }
        return 2 * Double(n) * Double(n) * Double(n) * Double(count) / seconds / 1e9
    }
}
