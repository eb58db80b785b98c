import Foundation

extension CLIPTokenizer {
    /// Loads a tokenizer folder as diffusers lays it out: `vocab.json` + `merges.txt` (what transformers 4
    /// saved, found in real SD1.x/SD2.x/SDXL folders) or `tokenizer.json` alone (what transformers 5 saves).
    /// Special tokens and `model_max_length` come from `tokenizer_config.json` /
    /// `special_tokens_map.json` when present (SDXL's `tokenizer_2` pads with `!`).
    /// - Throws: ``TextError/tokenizerFilesMissing(folder:)``, ``TextError/invalidTokenizerFile(file:reason:)``,
    ///   ``TextError/invalidMerge(line:merge:)``, ``TextError/specialTokenMissing(_:)``.
    public init(folder: URL) throws(TextError) {
        let fm = FileManager.default
        let vocabURL = folder.appendingPathComponent("vocab.json")
        let mergesURL = folder.appendingPathComponent("merges.txt")
        let tokenizerJSON = folder.appendingPathComponent("tokenizer.json")
        var settings = TokenizerSettings()
        settings.read(folder: folder)

        let vocabulary: [String: Int]
        let merges: [(String, String)]
        let firstLine: Int
        if fm.fileExists(atPath: vocabURL.path) && fm.fileExists(atPath: mergesURL.path) {
            vocabulary = try Self.readVocabulary(vocabURL)
            (merges, firstLine) = try Self.readMerges(mergesURL)
        } else if fm.fileExists(atPath: tokenizerJSON.path) {
            let model = try Self.readTokenizerJSON(tokenizerJSON)
            vocabulary = model.vocabulary
            merges = model.merges
            firstLine = 1
            settings.fill(from: model.settings)
        } else {
            throw .tokenizerFilesMissing(folder: folder.path)
        }
        try self.init(
            vocabulary: vocabulary, merges: merges,
            bosToken: settings.bos ?? "<|startoftext|>", eosToken: settings.eos ?? "<|endoftext|>",
            padToken: settings.pad ?? settings.eos ?? "<|endoftext|>",
            modelMaxLength: settings.maxLength ?? 77, firstMergeLine: firstLine)
    }

    static func readVocabulary(_ url: URL) throws(TextError) -> [String: Int] {
        let object = try readJSON(url)
        guard let dict = object as? [String: Any] else {
            throw .invalidTokenizerFile(file: url.lastPathComponent, reason: "not a JSON object of token → id")
        }
        return try vocabularyDictionary(dict, file: url.lastPathComponent)
    }

    private static func vocabularyDictionary(_ dict: [String: Any], file: String) throws(TextError) -> [String: Int] {
        var vocabulary: [String: Int] = [:]
        vocabulary.reserveCapacity(dict.count)
        for (token, value) in dict {
            guard let number = value as? NSNumber, let id = Int(exactly: number.doubleValue), id >= 0, id < 10_000_000 else {
                throw .invalidTokenizerFile(file: file, reason: "token \(token) has no valid id")
            }
            vocabulary[token] = id
        }
        return vocabulary
    }

    /// The merges of a `merges.txt`, and the line number of the first.
    static func readMerges(_ url: URL) throws(TextError) -> ([(String, String)], Int) {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw .invalidTokenizerFile(file: url.lastPathComponent, reason: "not readable as UTF-8 text")
        }
        var merges: [(String, String)] = []
        var firstLine = 0
        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            if lineNumber == 1 && line.hasPrefix("#version") { continue }
            let trimmed = line.hasSuffix("\r") ? line.dropLast() : line
            if trimmed.isEmpty { continue }
            let parts = trimmed.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw .invalidTokenizerFile(file: url.lastPathComponent, reason: "line \(lineNumber) is not two tokens separated by a space")
            }
            if firstLine == 0 { firstLine = lineNumber }
            merges.append((String(parts[0]), String(parts[1])))
        }
        return (merges, max(firstLine, 1))
    }

    static func readTokenizerJSON(_ url: URL) throws(TextError) -> (vocabulary: [String: Int], merges: [(String, String)], settings: TokenizerSettings) {
        let file = url.lastPathComponent
        guard let root = try readJSON(url) as? [String: Any], let model = root["model"] as? [String: Any] else {
            throw .invalidTokenizerFile(file: file, reason: "no \"model\" object")
        }
        if let type = model["type"] as? String, type != "BPE" {
            throw .invalidTokenizerFile(file: file, reason: "model type \(type) is not BPE")
        }
        guard let vocabObject = model["vocab"] as? [String: Any] else {
            throw .invalidTokenizerFile(file: file, reason: "no model.vocab object")
        }
        var vocabulary = try vocabularyDictionary(vocabObject, file: file)
        var merges: [(String, String)] = []
        for (i, entry) in ((model["merges"] as? [Any]) ?? []).enumerated() {
            if let pair = entry as? [String], pair.count == 2 {
                merges.append((pair[0], pair[1]))
            } else if let line = entry as? String {
                let parts = line.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else {
                    throw .invalidTokenizerFile(file: file, reason: "merge \(i + 1) \"\(line)\" is not two tokens")
                }
                merges.append((String(parts[0]), String(parts[1])))
            } else {
                throw .invalidTokenizerFile(file: file, reason: "merge \(i + 1) is neither \"a b\" nor [a, b]")
            }
        }
        var settings = TokenizerSettings()
        for added in (root["added_tokens"] as? [[String: Any]]) ?? [] {
            if let content = added["content"] as? String, let id = (added["id"] as? NSNumber)?.intValue, vocabulary[content] == nil {
                vocabulary[content] = id
            }
        }
        if let post = root["post_processor"] as? [String: Any] {
            settings.bos = (post["cls"] as? [Any])?.first as? String
            settings.eos = (post["sep"] as? [Any])?.first as? String
        }
        if let padding = root["padding"] as? [String: Any] {
            settings.pad = padding["pad_token"] as? String
        }
        if let truncation = root["truncation"] as? [String: Any], let length = (truncation["max_length"] as? NSNumber)?.intValue {
            settings.maxLength = length
        }
        return (vocabulary, merges, settings)
    }

    static func readJSON(_ url: URL) throws(TextError) -> Any {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw .invalidTokenizerFile(file: url.lastPathComponent, reason: "not readable")
        }
        do { return try JSONSerialization.jsonObject(with: data) } catch {
            throw .invalidTokenizerFile(file: url.lastPathComponent, reason: "not valid JSON")
        }
    }
}

/// Special tokens and length from `tokenizer_config.json` / `special_tokens_map.json`.
struct TokenizerSettings {
    var bos: String?
    var eos: String?
    var pad: String?
    var maxLength: Int?

    /// Reads what the folder's config files say; files that are absent or unreadable say nothing.
    mutating func read(folder: URL) {
        for name in ["special_tokens_map.json", "tokenizer_config.json"] {
            let url = folder.appendingPathComponent(name)
            guard let data = try? Data(contentsOf: url),
                  let dict = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { continue }
            bos = Self.tokenString(dict["bos_token"]) ?? bos
            eos = Self.tokenString(dict["eos_token"]) ?? eos
            pad = Self.tokenString(dict["pad_token"]) ?? pad
            // Files built without a limit store a huge sentinel (1e30); CLIP's position table is the real limit.
            if let length = (dict["model_max_length"] as? NSNumber)?.doubleValue, length >= 2, length <= 100_000 {
                maxLength = Int(length)
            }
        }
    }

    /// Values from `tokenizer.json` fill what the config files left open.
    mutating func fill(from other: TokenizerSettings) {
        bos = bos ?? other.bos
        eos = eos ?? other.eos
        pad = pad ?? other.pad
        maxLength = maxLength ?? other.maxLength
    }

    /// A token written as a string or as transformers 4's `{"content": …}` object.
    private static func tokenString(_ value: Any?) -> String? {
        if let s = value as? String { return s }
        if let d = value as? [String: Any] { return d["content"] as? String }
        return nil
    }
}
