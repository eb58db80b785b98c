import CZlib
import Foundation

extension CLIPTokenizer {
    /// CLIP's own tokenizer over the real 49,408-token vocabulary, built at run time from the BPE merges this
    /// package ships (`bpe_simple_vocab_16e6.txt.gz` of OpenAI CLIP, MIT) as CLIP's `SimpleTokenizer` builds it:
    /// the 256 byte characters, the same with `</w>`, one token per merge, then `<|startoftext|>` and
    /// `<|endoftext|>`. What a single-file checkpoint, which holds no tokenizer, is read with.
    /// - Parameter padToken: `<|endoftext|>` (SD 1.x, SDXL's first tokenizer) or `!` (SD 2.x, SDXL's second).
    /// - Throws: ``TextError/invalidTokenizerFile(file:reason:)`` when the resource is missing or damaged.
    public static func builtIn(padToken: String = "<|endoftext|>") throws(TextError) -> CLIPTokenizer {
        let (vocabulary, merges) = try BuiltInCLIPVocabulary.shared.get()
        return try CLIPTokenizer(vocabulary: vocabulary, merges: merges, padToken: padToken, modelMaxLength: 77)
    }
}

/// The built-in vocabulary, read once per process.
enum BuiltInCLIPVocabulary {
    static let resource = "bpe_simple_vocab_16e6.txt.gz"
    /// CLIP's `SimpleTokenizer` keeps lines `1 ..< 49152 − 256 − 2 + 1` (the first is a version comment).
    static let mergeCount = 49152 - 256 - 2

    static let shared: Result<([String: Int], [(String, String)]), TextError> = Result { () throws(TextError) in try load() }

    static func load() throws(TextError) -> ([String: Int], [(String, String)]) {
        guard let url = Bundle.module.url(forResource: "bpe_simple_vocab_16e6.txt", withExtension: "gz"),
              let compressed = try? Data(contentsOf: url) else {
            throw .invalidTokenizerFile(file: resource, reason: "the package resource is missing")
        }
        guard let data = gunzip(compressed), let text = String(data: data, encoding: .utf8) else {
            throw .invalidTokenizerFile(file: resource, reason: "not gzip-compressed UTF-8 text")
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count > mergeCount else {
            throw .invalidTokenizerFile(file: resource, reason: "\(lines.count) lines, expected more than \(mergeCount)")
        }
        var merges: [(String, String)] = []
        merges.reserveCapacity(mergeCount)
        for (i, line) in lines[1...mergeCount].enumerated() {
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw .invalidMerge(line: i + 2, merge: String(line)) }
            merges.append((String(parts[0]), String(parts[1])))
        }
        var tokens = ByteLevelAlphabet.clipOrder
        tokens += ByteLevelAlphabet.clipOrder.map { $0 + "</w>" }
        tokens += merges.map { $0.0 + $0.1 }
        tokens += ["<|startoftext|>", "<|endoftext|>"]
        var vocabulary: [String: Int] = [:]
        vocabulary.reserveCapacity(tokens.count)
        for (id, token) in tokens.enumerated() { vocabulary[token] = id }
        return (vocabulary, merges)
    }

    /// The bytes of a gzip stream, or nil when it is not one.
    static func gunzip(_ data: Data) -> Data? {
        var stream = z_stream()
        guard czlib_inflate_init_gzip(&stream) == Z_OK else { return nil }
        defer { inflateEnd(&stream) }
        var output = Data()
        let chunk = 1 << 20
        var buffer = [UInt8](repeating: 0, count: chunk)
        var status = Z_OK
        data.withUnsafeBytes { (input: UnsafeRawBufferPointer) in
            stream.next_in = UnsafeMutablePointer(mutating: input.bindMemory(to: Bytef.self).baseAddress)
            stream.avail_in = uInt(input.count)
            repeat {
                buffer.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(chunk)
                    status = inflate(&stream, Z_NO_FLUSH)
                    output.append(out.baseAddress!, count: chunk - Int(stream.avail_out))
                }
            } while status == Z_OK
        }
        return status == Z_STREAM_END ? output : nil
    }
}
