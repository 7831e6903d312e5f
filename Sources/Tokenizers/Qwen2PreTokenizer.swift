// Qwen2's pre-tokenizer: the pieces `tokenizers`' Split (behavior "isolated") cuts with the pattern
//     (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// written out by hand with Oniguruma's semantics: alternatives tried in order at each position (first match wins),
// greedy runs that backtrack only as far as the rest of the alternative needs, code points as characters, \p{L}/\p{N}
// as general categories, \s as White_Space. Every character falls in some alternative, so the pieces cover the text.
// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/models/qwen2/tokenization_qwen2.py
// Llama 3's pattern is the same but for `\p{N}{1,3}` in place of `\p{N}` (digits go in runs of up to three), which
// `split(_:digitRun:)` takes as its run length:
// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/convert_slow_tokenizer.py#L1962

enum Qwen2PreTokenizer {
    /// The pattern as tokenizer.json stores it (checked when loading, so that another pre-tokenizer is refused).
    static let pattern =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"#
        + #"|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// Llama 3's pattern as its tokenizer.json stores it.
    static let llama3Pattern =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"#
        + #"|\s*[\r\n]+|\s+(?!\S)|\s+"#

    private static let contractions: [Scalars] = ["s", "t", "re", "ve", "m", "ll", "d"].map { Scalars($0) }

    /// `digitRun`: the most numbers (`\p{N}`) one piece holds: 1 for Qwen2, 3 for Llama 3.
    static func split(_ text: Scalars, digitRun: Int = 1) -> [Scalars] {
        var pieces: [Scalars] = []
        var i = 0
        while i < text.count {
            let end = matchEnd(text, at: i, digitRun: digitRun)
            pieces.append(Scalars(text[i..<end]))
            i = end
        }
        return pieces
    }

    private static func isNewline(_ s: Unicode.Scalar) -> Bool { s == "\r" || s == "\n" }
    private static func isSpace(_ s: Unicode.Scalar) -> Bool { UnicodeText.isRegexSpace(s) }
    private static func isLetter(_ s: Unicode.Scalar) -> Bool { UnicodeText.isLetter(s) }
    private static func isNumber(_ s: Unicode.Scalar) -> Bool { UnicodeText.isNumber(s) }
    private static func isOther(_ s: Unicode.Scalar) -> Bool { !isSpace(s) && !isLetter(s) && !isNumber(s) }

    /// The end of the match starting at `i` (always past `i`).
    private static func matchEnd(_ text: Scalars, at i: Int, digitRun: Int) -> Int {
        let n = text.count
        // (?i:'s|'t|'re|'ve|'m|'ll|'d)
        if text[i] == "'" {
            for contraction in contractions where matchesIgnoringCase(contraction, text, at: i + 1) {
                return i + 1 + contraction.count
            }
        }
        // [^\r\n\p{L}\p{N}]?\p{L}+
        var start = i
        if !isNewline(text[i]), !isLetter(text[i]), !isNumber(text[i]), i + 1 < n, isLetter(text[i + 1]) {
            start = i + 1
        }
        if isLetter(text[start]) {
            var end = start + 1
            while end < n, isLetter(text[end]) { end += 1 }
            return end
        }
        // \p{N}{1,digitRun}
        if isNumber(text[i]) {
            var end = i + 1
            while end < n, end - i < digitRun, isNumber(text[end]) { end += 1 }
            return end
        }
        // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
        start = text[i] == " " && i + 1 < n && isOther(text[i + 1]) ? i + 1 : i
        if isOther(text[start]) {
            var end = start + 1
            while end < n, isOther(text[end]) { end += 1 }
            while end < n, isNewline(text[end]) { end += 1 }
            return end
        }
        // What is left starts with whitespace: its maximal run is [i, runEnd).
        var runEnd = i
        while runEnd < n, isSpace(text[runEnd]) { runEnd += 1 }
        // \s*[\r\n]+ : up to the run's last line break.
        if let last = (i..<runEnd).last(where: { isNewline(text[$0]) }) { return last + 1 }
        // \s+(?!\S) : the run, less its last character when a non-space follows.
        if runEnd == n { return runEnd }
        if runEnd - i >= 2 { return runEnd - 1 }
        // \s+
        return runEnd
    }

    /// The ASCII letters of the pattern under `(?i:…)`: their upper case, and the long s (U+017F) for "s".
    private static func matchesIgnoringCase(_ literal: Scalars, _ text: Scalars, at start: Int) -> Bool {
        guard start + literal.count <= text.count else { return false }
        for (offset, expected) in literal.enumerated() {
            var actual = text[start + offset]
            if ("A"..."Z").contains(actual) { actual = Unicode.Scalar(actual.value + 32)! }
            if actual.value == 0x017F { actual = "s" }
            if actual.value == 0x212A { actual = "k" }
            if actual != expected { return false }
        }
        return true
    }
}
