import Foundation

/// CLIP's text clean-up and word splitting, as transformers' `CLIPTokenizer` (tokenizers backend) does it:
///
/// 1. NFC, every run of white space (the Unicode `White_Space` property) replaced by one space,
///    then each scalar lower-cased on its own (so `Σ` is always `σ`, and `İ` becomes `i` + U+0307);
/// 2. split into words with CLIP's pattern
///    `<|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+`,
///    spaces dropped;
/// 3. GPT-2's byte-level split of each word, which only changes the two special-token spellings
///    (`<|endoftext|>` becomes `<|`, `endoftext`, `|>`); the words are then UTF-8 bytes.
enum CLIPPreTokenizer {
    /// The words of `text`, each as UTF-8 bytes, in order.
    static func words(_ text: Substring) -> [[UInt8]] {
        var words: [[UInt8]] = []
        if text.utf8.allSatisfy({ $0 < 0x80 }) {
            asciiWords(Array(text.utf8), into: &words)
        } else {
            unicodeWords(normalized(text), into: &words)
        }
        return words
    }

    // MARK: ASCII fast path (NFC and lower-casing are byte operations)

    private enum ASCIIClass: UInt8 { case space, letter, digit, other }

    private static let asciiClass: [ASCIIClass] = (0..<128).map { b in
        switch b {
        case 0x09...0x0D, 0x20: return .space
        case 0x41...0x5A, 0x61...0x7A: return .letter
        case 0x30...0x39: return .digit
        default: return .other
        }
    }

    private static func asciiWords(_ raw: [UInt8], into words: inout [[UInt8]]) {
        let bytes = raw.map { (0x41...0x5A).contains($0) ? $0 | 0x20 : $0 }
        let n = bytes.count
        var i = 0
        while i < n {
            let c = asciiClass[Int(bytes[i])]
            switch c {
            case .space:
                i += 1
            case .letter:
                let start = i
                while i < n && asciiClass[Int(bytes[i])] == .letter { i += 1 }
                words.append(Array(bytes[start..<i]))
            case .digit:
                words.append([bytes[i]])
                i += 1
            case .other:
                if let special = specialSpelling(bytes, at: i) {
                    appendSpecial(special, into: &words)
                    i += special.count
                } else if let length = contractionLength(bytes, at: i) {
                    words.append(Array(bytes[i..<(i + length)]))
                    i += length
                } else {
                    let start = i
                    while i < n && asciiClass[Int(bytes[i])] == .other { i += 1 }
                    words.append(Array(bytes[start..<i]))
                }
            }
        }
    }

    // MARK: General path

    private enum ScalarClass { case space, letter, number, other }

    private static func scalarClass(_ s: Unicode.Scalar) -> ScalarClass {
        if s.value < 0x80 {
            switch asciiClass[Int(s.value)] {
            case .space: return .space
            case .letter: return .letter
            case .digit: return .number
            case .other: return .other
            }
        }
        let p = s.properties
        if p.isWhitespace { return .space }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }

    /// NFC, white-space runs to one space, per-scalar lower case.
    static func normalized(_ text: Substring) -> [Unicode.Scalar] {
        let composed = String(text).precomposedStringWithCanonicalMapping
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(composed.unicodeScalars.count)
        var inSpace = false
        for s in composed.unicodeScalars {
            if s.properties.isWhitespace {
                if !inSpace { out.append(" ") }
                inSpace = true
                continue
            }
            inSpace = false
            if s.value < 0x80 {
                out.append((0x41...0x5A).contains(s.value) ? Unicode.Scalar(s.value | 0x20)! : s)
            } else if s.properties.changesWhenLowercased {
                out.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars)
            } else {
                out.append(s)
            }
        }
        return out
    }

    private static func unicodeWords(_ scalars: [Unicode.Scalar], into words: inout [[UInt8]]) {
        let classes = scalars.map(scalarClass)
        let n = scalars.count
        func utf8(_ range: Range<Int>) -> [UInt8] {
            var bytes: [UInt8] = []
            for s in scalars[range] { bytes.append(contentsOf: String(s).utf8) }
            return bytes
        }
        var i = 0
        while i < n {
            switch classes[i] {
            case .space:
                i += 1
            case .letter:
                let start = i
                while i < n && classes[i] == .letter { i += 1 }
                words.append(utf8(start..<i))
            case .number:
                words.append(utf8(i..<(i + 1)))
                i += 1
            case .other:
                // Special spellings and contractions are ASCII, so the scalar values are the bytes.
                let asciiAhead = scalars[i..<min(n, i + 16)].prefix { $0.value < 0x80 }.map { UInt8($0.value) }
                if let special = specialSpelling(asciiAhead, at: 0) {
                    appendSpecial(special, into: &words)
                    i += special.count
                } else if let length = contractionLength(asciiAhead, at: 0) {
                    words.append(asciiAhead.prefix(length).map { $0 })
                    i += length
                } else {
                    let start = i
                    while i < n && classes[i] == .other { i += 1 }
                    words.append(utf8(start..<i))
                }
            }
        }
    }

    // MARK: Shared pattern pieces

    private static let specialSpellings: [[UInt8]] = [Array("<|startoftext|>".utf8), Array("<|endoftext|>".utf8)]

    private static func specialSpelling(_ bytes: [UInt8], at i: Int) -> [UInt8]? {
        guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "<"), bytes[i + 1] == UInt8(ascii: "|") else { return nil }
        for s in specialSpellings where bytes.count - i >= s.count && bytes[i..<(i + s.count)].elementsEqual(s) {
            return s
        }
        return nil
    }

    /// GPT-2's byte-level split of a special spelling: `<|`, the letters, `|>`.
    private static func appendSpecial(_ spelling: [UInt8], into words: inout [[UInt8]]) {
        words.append(Array(spelling.prefix(2)))
        words.append(Array(spelling.dropFirst(2).dropLast(2)))
        words.append(Array(spelling.suffix(2)))
    }

    /// `'s`, `'t`, `'m`, `'d` (2 bytes) or `'re`, `'ve`, `'ll` (3 bytes) at `i`.
    private static func contractionLength(_ bytes: [UInt8], at i: Int) -> Int? {
        guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "'") else { return nil }
        let a = bytes[i + 1]
        switch a {
        case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"): return 2
        default: break
        }
        guard i + 2 < bytes.count else { return nil }
        let b = bytes[i + 2]
        switch (a, b) {
        case (UInt8(ascii: "r"), UInt8(ascii: "e")), (UInt8(ascii: "v"), UInt8(ascii: "e")), (UInt8(ascii: "l"), UInt8(ascii: "l")):
            return 3
        default:
            return nil
        }
    }
}
