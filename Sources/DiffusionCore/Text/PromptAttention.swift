/// A piece of a prompt after A1111's emphasis syntax is read: text with its weight, or a `BREAK`.
public enum PromptFragment: Sendable, Equatable {
    /// Text and the weight its tokens' hidden states are multiplied by.
    case text(String, weight: Double)
    /// `BREAK`: the current 75-token chunk ends here (padded) and the next begins.
    case chunkBreak
}

/// A1111's emphasis syntax (`modules/prompt_parser.py`, `parse_prompt_attention`), read the same way:
///
/// - `(text)` multiplies the weight by 1.1, `[text]` divides it by 1.1; brackets nest;
/// - `(text:1.3)` multiplies by the number; a bracket left open is closed at the end of the prompt;
/// - `\(` `\)` `\[` `\]` `\\` are the literal characters; a lone `\` is dropped;
/// - a `)` or `]` with nothing open, and `:1.2)` with no `(` open, are plain text;
/// - `BREAK` as a word (capitals) starts a new chunk; spaces around it are dropped;
/// - neighbouring pieces of equal weight are joined before tokenization (this changes token merges
///   at the seam exactly as A1111 does).
///
/// One deliberate difference: a `BREAK` inside brackets still breaks (in A1111 the bracket's multiplier
/// turns its marker into the text "BREAK" with a negative weight), and two `BREAK`s in a row give two
/// breaks instead of the text "BREAKBREAK".
public enum PromptAttention {
    /// The fragments of `prompt`; `[.text("", weight: 1)]` for an empty prompt.
    /// - Throws: ``TextError/invalidEmphasisWeight(_:)`` for `(x:1.2.3)` and similar (A1111 stops with an exception).
    public static func parse(_ prompt: String) throws(TextError) -> [PromptFragment] {
        var entries: [(text: String, weight: Double, isBreak: Bool)] = []
        var round: [Int] = []
        var square: [Int] = []
        func multiply(from start: Int, by factor: Double) {
            for i in start..<entries.count where !entries[i].isBreak { entries[i].weight *= factor }
        }
        func appendText(_ text: String) {
            let parts = splitOnBreak(text)
            for (i, part) in parts.enumerated() {
                if i > 0 { entries.append(("BREAK", -1, true)) }
                entries.append((part, 1, false))
            }
        }

        let chars = Array(prompt)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c == "\\" {
                if i + 1 < chars.count, "()[]\\".contains(chars[i + 1]) {
                    entries.append((String(chars[i + 1]), 1, false))
                    i += 2
                } else {
                    entries.append(("", 1, false))
                    i += 1
                }
            } else if c == "(" {
                round.append(entries.count)
                i += 1
            } else if c == "[" {
                square.append(entries.count)
                i += 1
            } else if c == ":" {
                // `:([+-]?[.\d]+)\)` — a weight closing a round bracket.
                var j = i + 1
                if j < chars.count, chars[j] == "+" || chars[j] == "-" { j += 1 }
                let numberStart = j
                while j < chars.count, chars[j] == "." || chars[j].isASCII && chars[j].isNumber { j += 1 }
                if j > numberStart, j < chars.count, chars[j] == ")" {
                    let text = String(chars[(i + 1)..<j])
                    if let start = round.popLast() {
                        guard let weight = Double(text), weight.isFinite else { throw .invalidEmphasisWeight(text) }
                        multiply(from: start, by: weight)
                    } else {
                        appendText(String(chars[i...j]))
                    }
                    i = j + 1
                } else {
                    appendText(":")
                    i += 1
                }
            } else if c == ")" {
                if let start = round.popLast() { multiply(from: start, by: 1.1) } else { appendText(")") }
                i += 1
            } else if c == "]" {
                if let start = square.popLast() { multiply(from: start, by: 1 / 1.1) } else { appendText("]") }
                i += 1
            } else {
                var j = i
                while j < chars.count, !"\\()[]:".contains(chars[j]) { j += 1 }
                appendText(String(chars[i..<j]))
                i = j
            }
        }
        for start in round { multiply(from: start, by: 1.1) }
        for start in square { multiply(from: start, by: 1 / 1.1) }

        var merged: [PromptFragment] = []
        var pending: (text: String, weight: Double)?
        for e in entries {
            if e.isBreak {
                if let p = pending { merged.append(.text(p.text, weight: p.weight)) }
                pending = nil
                merged.append(.chunkBreak)
            } else if let p = pending, p.weight == e.weight {
                pending = (p.text + e.text, p.weight)
            } else {
                if let p = pending { merged.append(.text(p.text, weight: p.weight)) }
                pending = (e.text, e.weight)
            }
        }
        if let p = pending { merged.append(.text(p.text, weight: p.weight)) }
        return merged.isEmpty ? [.text("", weight: 1)] : merged
    }

    /// Splits at `\s*\bBREAK\b\s*` (Python's `re.split` with A1111's pattern).
    static func splitOnBreak(_ text: String) -> [String] {
        let chars = Array(text)
        func isWord(_ c: Character) -> Bool { c.isLetter || c.isNumber || c == "_" }
        var parts: [String] = []
        var current: [Character] = []
        var i = 0
        let word: [Character] = Array("BREAK")
        while i < chars.count {
            if chars[i] == "B", i + 5 <= chars.count, Array(chars[i..<(i + 5)]) == word,
               i == 0 || !isWord(chars[i - 1]), i + 5 == chars.count || !isWord(chars[i + 5]) {
                while let last = current.last, last.isWhitespace { current.removeLast() }
                parts.append(String(current))
                current = []
                i += 5
                while i < chars.count, chars[i].isWhitespace { i += 1 }
            } else {
                current.append(chars[i])
                i += 1
            }
        }
        parts.append(String(current))
        return parts
    }
}
