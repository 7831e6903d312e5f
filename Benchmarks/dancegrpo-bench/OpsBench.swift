import Engine
import Foundation
import NN

/// `dancegrpo-bench ops`: the UNet's building blocks one at a time, at the medium SD config's sizes (batch 2, 32×32,
/// 256 channels), forward only, float32 — to see which primitive carries the gap to diffusers that `sd-unet` shows.
/// The PyTorch side is `tools/bench/ops_bench.py` (same shapes, same timing policy).
enum OpsBench {
    static let mode = "ops"

    static func run(_ arguments: [String]) -> Int32? {
        guard arguments.count >= 2, arguments[1] == mode else { return nil }
        let key = RandomKey(seed: 0).split(into: 6)
        let x = Random.normal([2, 32, 32, 256], key: key[0])
        let w3 = Random.normal([256, 3, 3, 256], key: key[1]) * 0.02
        let w1 = Random.normal([256, 1, 1, 256], key: key[2]) * 0.02
        let norm = GroupNorm(groups: 32, channels: 256)
        let q = Random.normal([2, 8, 1024, 32], key: key[3])
        let k = Random.normal([2, 8, 77, 32], key: key[4])
        let selfK = Random.normal([2, 8, 1024, 32], key: key[5])
        let cases: [(String, () -> Tensor)] = [
            ("conv3x3 256->256", { conv2d(x, w3, padding: (1, 1)) }),
            ("conv1x1 256->256", { conv2d(x, w1) }),
            ("matmul 2048x256 @ 256x256", { x.reshaped([2048, 256]).matmul(w1.reshaped([256, 256]).transposed()) }),
            ("group_norm 32 groups", { norm(x) }),
            ("silu", { silu(x) }),
            ("gelu (erf)", { gelu(x) }),
            (
                "self-attention 1024 tokens",
                { scaledDotProductAttention(queries: q, keys: selfK, values: selfK, scale: 0.18) }
            ),
            ("cross-attention 77 tokens", { scaledDotProductAttention(queries: q, keys: k, values: k, scale: 0.18) })
        ]
        print("swift ops (batch 2, 32×32, 256 channels, float32; median of 5 after 2 warm-ups):")
        for (name, op) in cases {
            let seconds = medianSeconds(warmup: 2, repeats: 5) { eval([op()]) }
            print(
                "  " + name.padding(toLength: 28, withPad: " ", startingAt: 0)
                    + String(format: " %8.2f ms", seconds * 1000))
        }
        return 0
    }
}
