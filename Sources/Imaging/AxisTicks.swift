import Foundation

/// "Nice" axis ticks: steps of 1, 2 or 5 times a power of ten, and labels with just enough decimals.
struct AxisTicks {
    let lower: Double
    let upper: Double
    let step: Double

    /// Ticks covering [minimum, maximum] with about `target` intervals; a degenerate range is widened around its value.
    init(minimum: Double, maximum: Double, target: Int = 5) {
        var lo = minimum, hi = maximum
        if !(lo.isFinite && hi.isFinite) { (lo, hi) = (0, 1) }
        if hi - lo < 1e-12 * max(1, abs(lo)) {
            let pad = lo == 0 ? 1 : abs(lo) * 0.1
            (lo, hi) = (lo - pad, hi + pad)
        }
        let rough = (hi - lo) / Double(max(1, target))
        let magnitude = pow(10, (log10(rough)).rounded(.down))
        let normalised = rough / magnitude
        let factor: Double = normalised <= 1 ? 1 : normalised <= 2 ? 2 : normalised <= 5 ? 5 : 10
        step = factor * magnitude
        lower = (lo / step).rounded(.down) * step
        upper = (hi / step).rounded(.up) * step
    }

    var values: [Double] {
        let count = Int(((upper - lower) / step).rounded()) + 1
        return (0..<count).map { lower + Double($0) * step }
    }

    /// The label of one tick: decimals follow the step (0.25 → "0.25"; 50 → "50").
    func label(_ value: Double) -> String {
        let decimals = max(0, min(6, -Int(log10(step).rounded(.down))))
        let text = String(format: "%.\(decimals)f", value)
        return text.hasPrefix("-") && Double(text) == 0 ? String(text.dropFirst()) : text
    }
}
