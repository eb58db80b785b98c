/// CLIP's byte-level BPE tokenizer, giving the same ids as transformers' `CLIPTokenizer`.
///
/// Special tokens (`<|startoftext|>`, `<|endoftext|>` and the pad token, e.g. SDXL's second
/// tokenizer's `!`) are cut out of the raw text first, exactly as written, as transformers does
/// with its added tokens. The rest is cleaned up and split into words by ``CLIPPreTokenizer``
/// rules, and each word is merged with the BPE ranks, its last symbol carrying `</w>`.
///
/// ```swift
/// let tokenizer = try CLIPTokenizer(folder: modelFolder.appending(path: "tokenizer"))
/// let ids = tokenizer.encode("a photo of an astronaut riding a horse")   // 49406 320 1125 … 49407
/// let padded = tokenizer.encodePadded("a photo")                           // 77 ids, pad token after EOS
/// ```
public struct CLIPTokenizer: Sendable {
    /// `<|startoftext|>`'s id (49406 in CLIP's vocabulary).
    public let bosTokenID: Int
    /// `<|endoftext|>`'s id (49407).
    public let eosTokenID: Int
    /// The pad token's id: `<|endoftext|>` for SD1.x's tokenizer, `!` (0) for SD2.x and SDXL's second.
    public let padTokenID: Int
    /// The sequence length the text encoder takes (77).
    public let modelMaxLength: Int
    /// The id of the word-final comma `,</w>`, where long prompts prefer to be cut; `nil` if absent.
    public let commaTokenID: Int?

    private let merges: BytePairMerges
    private let tokens: [String]
    private let ids: [String: Int]
    /// Special tokens cut out of the raw text, longest first, with their ids.
    private let specials: [(bytes: [UInt8], id: Int)]

    /// Builds a tokenizer from a vocabulary and a list of merges.
    ///
    /// - Parameters:
    ///   - vocabulary: token spelling (byte-level characters, optionally ending in `</w>`) → id.
    ///   - merges: the merges in rank order, each a pair of vocabulary spellings.
    ///   - bosToken / eosToken / padToken: the special tokens' spellings (`padToken` is `!` for SDXL's second tokenizer).
    ///   - modelMaxLength: the padded length (77).
    ///   - firstMergeLine: the file line of the first merge, for error messages.
    /// - Throws: ``TextError/specialTokenMissing(_:)`` or ``TextError/invalidMerge(line:merge:)``.
    public init(
        vocabulary: [String: Int],
        merges: [(String, String)],
        bosToken: String = "<|startoftext|>",
        eosToken: String = "<|endoftext|>",
        padToken: String = "<|endoftext|>",
        modelMaxLength: Int = 77,
        firstMergeLine: Int = 2
    ) throws(TextError) {
        guard let bos = vocabulary[bosToken] else { throw .specialTokenMissing(bosToken) }
        guard let eos = vocabulary[eosToken] else { throw .specialTokenMissing(eosToken) }
        guard let pad = vocabulary[padToken] else { throw .specialTokenMissing(padToken) }
        guard modelMaxLength >= 2 else {
            throw .invalidTokenizerFile(file: "tokenizer_config.json", reason: "model_max_length \(modelMaxLength) leaves no room for text")
        }
        self.merges = try BytePairMerges(vocabulary: vocabulary, merges: merges, firstMergeLine: firstMergeLine)
        var tokens = [String](repeating: "", count: (vocabulary.values.max() ?? -1) + 1)
        for (token, id) in vocabulary where id >= 0 { tokens[id] = token }
        self.tokens = tokens
        self.ids = vocabulary
        bosTokenID = bos
        eosTokenID = eos
        padTokenID = pad
        self.modelMaxLength = modelMaxLength
        commaTokenID = vocabulary[",</w>"]
        var specials: [(bytes: [UInt8], id: Int)] = []
        for (spelling, id) in [(bosToken, bos), (eosToken, eos), (padToken, pad)]
        where !specials.contains(where: { $0.bytes.elementsEqual(spelling.utf8) }) {
            specials.append((Array(spelling.utf8), id))
        }
        self.specials = specials.sorted { $0.bytes.count > $1.bytes.count }
    }

    /// The number of tokens in the vocabulary (49,408 for CLIP).
    public var vocabularySize: Int { tokens.count }

    /// The vocabulary spelling of an id, or `nil` for an id outside the vocabulary.
    public func token(forID id: Int) -> String? {
        tokens.indices.contains(id) ? tokens[id] : nil
    }

    /// The id of a vocabulary spelling (`"cat</w>"`), or `nil`.
    public func id(forToken token: String) -> Int? { ids[token] }

    /// The ids of `text` without `<|startoftext|>` / `<|endoftext|>` around it and without truncation
    /// (transformers' `tokenizer(text, add_special_tokens=False)`).
    public func tokenize(_ text: String) -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(text.utf8.count / 3 + 4)
        var segmentStart = text.utf8.startIndex
        var index = segmentStart
        let utf8 = text.utf8
        while index < utf8.endIndex {
            if let special = special(in: utf8, at: index) {
                appendText(text[segmentStart..<index], into: &out)
                out.append(special.id)
                index = utf8.index(index, offsetBy: special.bytes.count)
                segmentStart = index
            } else {
                index = utf8.index(after: index)
            }
        }
        appendText(text[segmentStart..<utf8.endIndex], into: &out)
        return out
    }

    /// `<|startoftext|>`, the ids of `text`, `<|endoftext|>`; no truncation
    /// (transformers' `tokenizer(text).input_ids`).
    public func encode(_ text: String) -> [Int] {
        [bosTokenID] + tokenize(text) + [eosTokenID]
    }

    /// The ids as a text encoder takes them: `<|startoftext|>`, at most `length − 2` text ids,
    /// `<|endoftext|>`, then the pad token up to `length` (default ``modelMaxLength``); what
    /// transformers gives for `padding="max_length", truncation=True`.
    public func encodePadded(_ text: String, length: Int? = nil) -> [Int] {
        padded(tokenize(text), length: length ?? modelMaxLength)
    }

    /// ``encodePadded(_:length:)`` for many texts, split over the cores.
    public func encodePadded(batch texts: [String], length: Int? = nil) -> [[Int]] {
        var results = [[Int]](repeating: [], count: texts.count)
        results.withUnsafeMutableBufferPointer { out in
            let base = out.baseAddress
            Parallel.forEach(texts.count, grain: 32) { range in
                for i in range { (base! + i).pointee = encodePadded(texts[i], length: length) }
            }
        }
        return results
    }

    /// Wraps already tokenized text ids as ``encodePadded(_:length:)`` does.
    public func padded(_ textIDs: [Int], length: Int? = nil) -> [Int] {
        let length = max(2, length ?? modelMaxLength)
        var out = [bosTokenID]
        out.append(contentsOf: textIDs.prefix(length - 2))
        out.append(eosTokenID)
        out.append(contentsOf: repeatElement(padTokenID, count: length - out.count))
        return out
    }

    private func special(in utf8: String.UTF8View, at index: String.UTF8View.Index) -> (bytes: [UInt8], id: Int)? {
        let first = utf8[index]
        for s in specials where s.bytes[0] == first {
            var i = index
            var matched = true
            for b in s.bytes {
                guard i < utf8.endIndex, utf8[i] == b else { matched = false; break }
                i = utf8.index(after: i)
            }
            if matched { return s }
        }
        return nil
    }

    private func appendText(_ text: Substring, into out: inout [Int]) {
        guard !text.isEmpty else { return }
        for word in CLIPPreTokenizer.words(text) where !word.isEmpty {
            merges.encode(word: word, into: &out)
        }
    }
}
