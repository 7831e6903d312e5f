import Engine
import GRPO

/// Conditioning rows per text, each text encoded once: the text encoders are frozen during GRPO, so a prompt's
/// states never change, and a run revisits the same prompts (and the empty prompt of guidance) every iteration.
public final class TextConditioningCache {
    private let encode: ([String]) throws -> Conditioning
    private var rows: [String: Conditioning] = [:]

    /// `encode` maps texts to a `Conditioning` with one row per text.
    public init(encode: @escaping ([String]) throws -> Conditioning) {
        self.encode = encode
    }

    /// The number of cached texts.
    public var count: Int { rows.count }

    /// One row per text, in order; texts not seen before are encoded together in one call.
    public func callAsFunction(_ texts: [String]) throws -> Conditioning {
        precondition(!texts.isEmpty, "TextConditioningCache: no text given")
        let missing = Array(Set(texts.filter { rows[$0] == nil })).sorted()
        if !missing.isEmpty {
            let encoded = try encode(missing)
            precondition(
                encoded.count == missing.count,
                "TextConditioningCache: \(encoded.count) rows for \(missing.count) texts")
            eval(Array(encoded.tensors.values))
            for (i, text) in missing.enumerated() { rows[text] = encoded.rows([i]) }
        }
        let selected = texts.map { rows[$0]! }
        var tensors: [String: Tensor] = [:]
        for key in selected[0].tensors.keys { tensors[key] = concatenated(selected.map { $0[key] }, axis: 0) }
        return Conditioning(tensors)
    }
}
