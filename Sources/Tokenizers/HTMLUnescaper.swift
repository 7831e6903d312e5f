// HTML character references, decoded the two ways open_clip's text clean-up does: Python's `html.unescape`
// (HTML5 rules, including references without ";" and invalid numeric references) and ftfy's stricter
// `unescape_html` (only complete references ending in ";", plus upper-cased names such as "&EACUTE;").

enum HTMLUnescaper {
    /// Named references as Python's `html.entities.html5` lists them: keys are names after "&", with ";" where the
    /// standard has it (106 legacy names also appear without).
    static var namedReferences: [String: Scalars] { HTMLEntityTable.references }

    /// Python's `html._invalid_charrefs`: numeric references to C1 controls read as Windows-1252, NUL and CR.
    static let windows1252C1: [UInt32: UInt32] = [
        0x80: 0x20AC, 0x81: 0x81, 0x82: 0x201A, 0x83: 0x0192, 0x84: 0x201E, 0x85: 0x2026, 0x86: 0x2020,
        0x87: 0x2021, 0x88: 0x02C6, 0x89: 0x2030, 0x8A: 0x0160, 0x8B: 0x2039, 0x8C: 0x0152, 0x8D: 0x8D,
        0x8E: 0x017D, 0x8F: 0x8F, 0x90: 0x90, 0x91: 0x2018, 0x92: 0x2019, 0x93: 0x201C, 0x94: 0x201D,
        0x95: 0x2022, 0x96: 0x2013, 0x97: 0x2014, 0x98: 0x02DC, 0x99: 0x2122, 0x9A: 0x0161, 0x9B: 0x203A,
        0x9C: 0x0153, 0x9D: 0x9D, 0x9E: 0x017E, 0x9F: 0x0178
    ]

    private static func isASCIIDigit(_ s: Unicode.Scalar) -> Bool { (0x30...0x39).contains(s.value) }
    private static func isASCIIHexDigit(_ s: Unicode.Scalar) -> Bool {
        isASCIIDigit(s) || (0x41...0x46).contains(s.value) || (0x61...0x66).contains(s.value)
    }
    private static func isASCIIAlphanumeric(_ s: Unicode.Scalar) -> Bool {
        isASCIIDigit(s) || (0x41...0x5A).contains(s.value) || (0x61...0x7A).contains(s.value)
    }

    // MARK: Python html.unescape

    /// Python's `html.unescape`, which matches `&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)`.
    static func unescape(_ text: Scalars) -> Scalars {
        guard text.contains("&") else { return text }
        var output: Scalars = []
        output.reserveCapacity(text.count)
        var i = 0
        while i < text.count {
            guard text[i] == "&", let (replacement, end) = reference(in: text, at: i) else {
                output.append(text[i])
                i += 1
                continue
            }
            output += replacement
            i = end
        }
        return output
    }

    /// The replacement of the reference starting with the "&" at `start`, and the index after it; nil when the
    /// characters after "&" do not form a reference.
    private static func reference(in text: Scalars, at start: Int) -> (Scalars, Int)? {
        let n = text.count
        var j = start + 1
        guard j < n else { return nil }
        if text[j] == "#" {
            j += 1
            var radix = 10
            if j < n, isASCIIDigit(text[j]) {
            } else if j + 1 < n, text[j] == "x" || text[j] == "X", isASCIIHexDigit(text[j + 1]) {
                radix = 16
                j += 1
            } else {
                return nil
            }
            var value: UInt32 = 0
            while j < n, radix == 10 ? isASCIIDigit(text[j]) : isASCIIHexDigit(text[j]) {
                // Saturates: every value past U+10FFFF is replaced the same way.
                value = min(value * UInt32(radix) + digitValue(text[j]), 0x11_0000)
                j += 1
            }
            if j < n, text[j] == ";" { j += 1 }
            return (numericReplacement(value), j)
        }
        var k = j
        while k < n, k - j < 32, !"\t\n\u{0C} <&#;".unicodeScalars.contains(text[k]) { k += 1 }
        guard k > j else { return nil }
        var name = Scalars(text[j..<k])
        if k < n, text[k] == ";" {
            name.append(";")
            k += 1
        }
        if let value = namedReferences[name.string] { return (value, k) }
        // The longest prefix that is a legacy name (such as "&ampx" → "&" + "x").
        if name.count > 2 {
            for length in stride(from: name.count - 1, through: 2, by: -1) {
                if let value = namedReferences[Scalars(name[..<length]).string] {
                    return (value + name[length...], k)
                }
            }
        }
        return (["&"] + name, k)
    }

    private static func digitValue(_ s: Unicode.Scalar) -> UInt32 {
        isASCIIDigit(s) ? s.value - 0x30 : (s.value | 0x20) - 0x61 + 10
    }

    private static func numericReplacement(_ value: UInt32) -> Scalars {
        if value == 0 { return ["\u{FFFD}"] }
        if value == 0x0D { return ["\r"] }
        if let mapped = windows1252C1[value] { return [Unicode.Scalar(mapped)!] }
        if (0xD800...0xDFFF).contains(value) || value > 0x10FFFF { return ["\u{FFFD}"] }
        let isNoncharacter = (0xFDD0...0xFDEF).contains(value) || value & 0xFFFE == 0xFFFE
        if (0x01...0x08).contains(value) || value == 0x0B || (0x0E...0x1F).contains(value)
            || (0x7F...0x9F).contains(value) || isNoncharacter
        {
            return []
        }
        return [Unicode.Scalar(value)!]
    }

    // MARK: ftfy unescape_html

    /// ftfy's reference table: the HTML5 names ending in ";", plus the upper-cased form of each lower-case name
    /// when that form is not itself a reference (mapping to the upper-cased character).
    private static let ftfyReferences: [String: Scalars] = {
        var table: [String: Scalars] = [:]
        for (name, value) in namedReferences where name.hasSuffix(";") {
            table["&" + name] = value
            if name == name.lowercased() {
                let upperName = "&" + name.uppercased()
                let upperScalars = Scalars(upperName)
                if unescape(upperScalars) == upperScalars {
                    table[upperName] = value.flatMap { $0.properties.uppercaseMapping.unicodeScalars }
                }
            }
        }
        return table
    }()

    /// ftfy's `unescape_html`: replaces matches of `&#?[0-9A-Za-z]{1,24};` that name a known reference, or that are
    /// numeric references `html.unescape` decodes completely.
    static func unescapeFtfy(_ text: Scalars) -> Scalars {
        guard text.contains("&") else { return text }
        var output: Scalars = []
        output.reserveCapacity(text.count)
        var i = 0
        while i < text.count {
            if text[i] == "&" {
                var j = i + 1
                if j < text.count, text[j] == "#" { j += 1 }
                var k = j
                while k < text.count, k - j <= 24, isASCIIAlphanumeric(text[k]) { k += 1 }
                if k > j, k - j <= 24, k < text.count, text[k] == ";" {
                    let reference = Scalars(text[i...k])
                    output += replacementFtfy(reference)
                    i = k + 1
                    continue
                }
            }
            output.append(text[i])
            i += 1
        }
        return output
    }

    private static func replacementFtfy(_ reference: Scalars) -> Scalars {
        if let value = ftfyReferences[reference.string] { return value }
        if reference.count > 1, reference[1] == "#" {
            let decoded = unescape(reference)
            return decoded.contains(";") ? reference : decoded
        }
        return reference
    }
}
