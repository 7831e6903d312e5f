import Engine
import GRPO

/// Conditioning rows per text, each text encoded once: the text encoders are frozen during GRPO, so a prompt's
/// states never change, and a run revisits the same prompts (and the empty prompt of guidance) every iteration.
///
/// Each text is encoded on its own. A batched encoder's rows depend on the batch at the last bit (a matrix product
/// of one row takes another BLAS path than one of many), and which texts meet in a batch depends on what was cached
/// before: a run resumed from a checkpoint starts with an empty cache, and would condition on other bytes than the
/// uninterrupted run did. Encoding alone makes a text's rows a function of the text only.
public final class TextConditioningCache {
    private let encode: ([String]) throws -> Conditioning
    private var rows: [String: Conditioning] = [:]

    /// `encode` maps texts to a `Conditioning` with one row per text.
    public init(encode: @escaping ([String]) throws -> Conditioning) {
        self.encode = encode
    }

    /// The number of cached texts.
    public var count: Int { rows.count }

    /// One row per text, in order; texts not seen before are encoded one by one.
    public func callAsFunction(_ texts: [String]) throws -> Conditioning {
        precondition(!texts.isEmpty, "TextConditioningCache: no text given")
        for text in Array(Set(texts.filter { rows[$0] == nil })).sorted() {
            let encoded = try encode([text])
            precondition(encoded.count == 1, "TextConditioningCache: \(encoded.count) rows for 1 text")
            eval(Array(encoded.tensors.values))
            rows[text] = encoded
        }
        let selected = texts.map { rows[$0]! }
        var tensors: [String: Tensor] = [:]
        for key in selected[0].tensors.keys { tensors[key] = concatenated(selected.map { $0[key] }, axis: 0) }
        return Conditioning(tensors)
    }
}
