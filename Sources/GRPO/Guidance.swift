import Engine

// True classifier-free guidance in rollout and training: v = v_u + w·(v_c − v_u), computed in float32
// from one batched network call on [unconditional rows; conditional rows]. Rollout and training both go through
// `guidedOutput`, so the log-probabilities they compute come from the same formula (the ratio-is-one rule).

extension Conditioning {
    /// The rows of `first` followed by the rows of `second` (same keys, same non-batch shapes).
    public static func concatenating(_ first: Conditioning, _ second: Conditioning) -> Conditioning {
        precondition(
            Set(first.tensors.keys) == Set(second.tensors.keys),
            "Conditioning: cannot stack keys \(first.tensors.keys.sorted()) and \(second.tensors.keys.sorted())")
        var tensors: [String: Tensor] = [:]
        for (key, a) in first.tensors {
            let b = second[key]
            precondition(
                Array(a.shape.dropFirst()) == Array(b.shape.dropFirst()),
                """
                Conditioning: '\(key)' is \(a.shape) in one branch and \(b.shape) in the other (pad the unconditional \
                text)
                """
            )
            tensors[key] = concatenated([a, b.asType(a.dtype)], axis: 0)
        }
        return Conditioning(tensors)
    }
}

/// The unconditional branch of a batch of `samples` samples: one shared row or one row per sample.
struct GuidanceInputs {
    let unconditional: Conditioning?

    init(scale: Float?, unconditional: Conditioning?, samples: Int) {
        guard scale != nil else { self.unconditional = nil; return }
        guard let unconditional else {
            preconditionFailure("classifier-free guidance needs an unconditional Conditioning")
        }
        precondition(
            unconditional.count == 1 || unconditional.count == samples,
            "unconditional conditioning has \(unconditional.count) rows for \(samples) samples (give 1 or \(samples))")
        self.unconditional = unconditional
    }

    /// The unconditional rows of the given samples (nil without guidance).
    func rows(_ samples: [Int]) -> Conditioning? {
        guard let unconditional else { return nil }
        return unconditional.rows(unconditional.count == 1 ? [Int](repeating: 0, count: samples.count) : samples)
    }
}

/// The network output a step uses, in float32: the conditional output, or with `scale` w the CFG combination
/// out_u + w·(out_c − out_u) from a single call on 2B rows (v for flows, ε for DDIM).
func guidedOutput(
    _ velocity: (Tensor, Tensor, Conditioning) throws -> Tensor, _ x: Tensor, timesteps: Tensor,
    conditioning: Conditioning, unconditional: Conditioning?, scale: Float?
) rethrows -> Tensor {
    guard let scale else { return try velocity(x, timesteps, conditioning).asType(.float32) }
    guard let unconditional else { preconditionFailure("classifier-free guidance needs an unconditional Conditioning") }
    let b = x.dim(0)
    let both = try velocity(
        concatenated([x, x], axis: 0), concatenated([timesteps, timesteps], axis: 0),
        .concatenating(unconditional, conditioning)
    ).asType(.float32)
    let vu = both[0..<b], vc = both[b..<(2 * b)]
    return vu + scale * (vc - vu)
}
