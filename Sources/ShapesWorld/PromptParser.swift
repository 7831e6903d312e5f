/// Reads prompt text back into a `PromptSpec`.
///
/// Grammar (case-insensitive; commas and a final period are ignored):
///
///     prompt   := group ("and" group)*  |  group relation group
///     group    := count colour noun          count: a | an | one | two | three | four | 1–4
///     relation := ["to" "the"] ("left" | "right") "of" | ["on"] ("above" | "below")
///
/// Nouns may be singular or plural whatever the count ("two red circle" reads as two circles).
public enum PromptParser {
    public static func parse(_ text: String) throws -> PromptSpec {
        let cleaned = String(text.lowercased().map { (c: Character) -> Character in c == "," || c == "." ? " " : c })
        let tokens = cleaned.split(separator: " ").map(String.init)
        guard !tokens.isEmpty else { throw PromptError.emptyPrompt }
        var position = 0

        func readGroup() throws -> ObjectGroup {
            guard position + 3 <= tokens.count else {
                throw PromptError.expectedGroup(wordNumber: position + 1, prompt: text)
            }
            let (countWord, colourWord, noun) = (tokens[position], tokens[position + 1], tokens[position + 2])
            guard let count = CountWords.count(for: countWord) else {
                throw PromptError.notACount(word: countWord, prompt: text)
            }
            guard let color = ShapeColor(name: colourWord) else {
                throw PromptError.unknownColor(word: colourWord, prompt: text)
            }
            guard let shape = ShapeKind(noun: noun) else {
                throw PromptError.unknownShape(word: noun, prompt: text)
            }
            position += 3
            return ObjectGroup(color: color, shape: shape, count: count)
        }

        func readRelation() -> SpatialRelation? {
            var p = position
            if p + 1 < tokens.count, tokens[p] == "to", tokens[p + 1] == "the" { p += 2 }
            if p < tokens.count, tokens[p] == "on" { p += 1 }
            guard p < tokens.count else { return nil }
            let relation: SpatialRelation
            switch tokens[p] {
            case "above": relation = .above; p += 1
            case "below": relation = .below; p += 1
            case "left", "right":
                guard p + 1 < tokens.count, tokens[p + 1] == "of" else { return nil }
                relation = tokens[p] == "left" ? .leftOf : .rightOf
                p += 2
            default: return nil
            }
            position = p
            return relation
        }

        var groups = [try readGroup()]
        var relation: SpatialRelation? = nil
        if position < tokens.count {
            if let r = readRelation() {
                relation = r
                groups.append(try readGroup())
            } else {
                while position < tokens.count {
                    guard tokens[position] == "and" else {
                        throw PromptError.unexpectedWord(tokens[position], prompt: text)
                    }
                    position += 1
                    groups.append(try readGroup())
                }
            }
        }
        guard position == tokens.count else {
            throw PromptError.trailingWords(tokens[position...].joined(separator: " "), prompt: text)
        }
        return try PromptSpec(groups: groups, relation: relation)
    }
}
