import Dispatch

/// Median wall-clock seconds of `repeats` runs of `body`, after `warmup` untimed runs (first runs pay for
/// allocation and the engine's caches). The same policy as tools/bench/torch_bench.py.
func medianSeconds(warmup: Int, repeats: Int, _ body: () -> Void) -> Double {
    for _ in 0..<warmup { body() }
    var samples: [Double] = []
    for _ in 0..<repeats {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    samples.sort()
    let middle = samples.count / 2
    return samples.count % 2 == 1 ? samples[middle] : (samples[middle - 1] + samples[middle]) / 2
}
