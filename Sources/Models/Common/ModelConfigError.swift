import Foundation

/// A model config whose numbers cannot build the model, or a tokenizer that does not fit its text model. Found
/// before any tensor is built; every problem of the file is listed at once, each naming its key, what was expected
/// and what was found. (Malformed JSON and wrong value types are `ConfigFile.Error`s.)
public enum ModelConfigError: Error, CustomStringConvertible, Equatable, Sendable {
    /// Values of one config file that do not fit together.
    case invalidValues(file: String, problems: [String])
    /// A tokenizer whose ids or lengths reach past the text model's tables.
    case tokenizerMismatch(tokenizer: String, model: String, problems: [String])

    public var problems: [String] {
        switch self {
        case .invalidValues(_, let problems), .tokenizerMismatch(_, _, let problems): return problems
        }
    }

    public var description: String {
        switch self {
        case .invalidValues(let file, let problems):
            return "\(file): " + problems.joined(separator: "; ")
        case .tokenizerMismatch(let tokenizer, let model, let problems):
            return "tokenizer \(tokenizer) does not fit the text model \(model): " + problems.joined(separator: "; ")
        }
    }
}

/// Collects the problems of one config's numbers, each as "key: expected …, found …".
struct ConfigChecks {
    /// Widths, vocabularies, positions: larger ones are no real model's and would overflow size arithmetic (and the
    /// int32 token ids) long before memory runs out.
    static let sizeLimit = 1 << 24
    /// Layer and head counts.
    static let countLimit = 1 << 12

    private(set) var problems: [String] = []

    mutating func add(_ problem: String) { problems.append(problem) }

    /// `value` in 1...limit.
    mutating func size(_ key: String, _ value: Int, limit: Int = sizeLimit) {
        if value < 1 || value > limit { add("\(key): expected a positive size up to \(limit), found \(value)") }
    }

    /// `value` in 0...limit (layer counts of models that may have none of a kind).
    mutating func count(_ key: String, _ value: Int, limit: Int = countLimit) {
        if value < 0 || value > limit { add("\(key): expected a count in 0...\(limit), found \(value)") }
    }

    /// Each entry in 1...limit, named `key[i]`.
    mutating func sizes(_ key: String, _ values: [Int], limit: Int = sizeLimit) {
        for (i, value) in values.enumerated() { size("\(key)[\(i)]", value, limit: limit) }
    }

    /// `value` a multiple of `divisor` (checked only when both are positive: the size checks report the rest).
    mutating func multiple(_ key: String, _ value: Int, of divisorKey: String, _ divisor: Int) {
        guard value > 0, divisor > 0, value % divisor != 0 else { return }
        add("\(key): expected a multiple of \(divisorKey) \(divisor), found \(value)")
    }

    /// `attention_head_dim` and `num_attention_heads` as sizes, and their product (the inner width) within the size
    /// limit.
    mutating func heads(headDim: Int, heads: Int) {
        size("attention_head_dim", headDim)
        size("num_attention_heads", heads, limit: ConfigChecks.countLimit)
        let (inner, overflow) = headDim.multipliedReportingOverflow(by: heads)
        if headDim > 0, heads > 0, overflow || inner > ConfigChecks.sizeLimit {
            add(
                "num_attention_heads × attention_head_dim: expected at most \(ConfigChecks.sizeLimit), "
                    + "found \(overflow ? "more" : "\(inner)")")
        }
    }

    /// `axes_dims_rope`: three positive even entries (one per position axis: `axes`) summing to the head size.
    mutating func rotaryAxes(_ dims: [Int], axes: String, headDim: Int) {
        if dims.count != 3 { add("axes_dims_rope: expected 3 entries (\(axes)), found \(dims)") }
        for (i, axis) in dims.enumerated() where axis < 2 || axis % 2 != 0 {
            add("axes_dims_rope[\(i)]: expected a positive even number, found \(axis)")
        }
        let sum = dims.reduce(0) { $0 &+ $1 }
        if sum != headDim {
            add("axes_dims_rope: expected entries summing to attention_head_dim \(headDim), found sum \(sum)")
        }
    }

    /// A positive finite epsilon or scale.
    mutating func positive(_ key: String, _ value: Double) {
        if !(value > 0) || !value.isFinite { add("\(key): expected a positive finite number, found \(value)") }
    }

    /// A token id inside a table of `rows` rows.
    mutating func id(_ key: String, _ value: Int, inside rowsKey: String, _ rows: Int) {
        if value < 0 || value >= rows { add("\(key): expected an id in 0..<\(rowsKey) \(rows), found \(value)") }
    }

    func check(file: String) throws {
        if !problems.isEmpty { throw ModelConfigError.invalidValues(file: file, problems: problems) }
    }
}
