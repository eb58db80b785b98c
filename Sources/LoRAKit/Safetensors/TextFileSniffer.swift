/// Names a text file saved under a `.safetensors` name: a git-LFS pointer (the repository was cloned without
/// `git lfs`), an HTML page (a download link that returned a login or error page), JSON, or other text.
///
/// Such files start with printable bytes, so their first eight bytes read as a header length of over
/// 10¹⁷; without this they would be reported as "header length … exceeds the 100 MB limit".
enum TextFileSniffer {
    /// How many leading bytes are looked at.
    static let window = 1024

    /// A description of the text `file` holds, or nil when its start is not text.
    static func describe(_ file: UnsafeRawBufferPointer) -> String? {
        let head = Array(file.prefix(window))
        guard looksLikeText(head) else { return nil }
        var text = String(decoding: head, as: UTF8.self)
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        let trimmed = text.drop(while: \.isWhitespace)
        let lower = trimmed.prefix(64).lowercased()
        if trimmed.hasPrefix("version https://git-lfs.github.com/spec/") {
            var reason = "a git-LFS pointer, not the file it points to"
            if let size = lfsSize(String(trimmed)) { reason += " (\(size) bytes)" }
            return reason + "; fetch the file with `git lfs pull` or download it again"
        }
        if lower.hasPrefix("<!doctype html") || lower.hasPrefix("<html") || lower.hasPrefix("<head") || lower.hasPrefix("<body") {
            return "an HTML page, not a model file (a download that saved a login or error page?)"
        }
        if lower.hasPrefix("<?xml") { return "an XML document, not a model file (a download that saved an error page?)" }
        if trimmed.hasPrefix("{") || trimmed.hasPrefix("[") {
            return "looks like JSON text, not a model file (a config or index file saved under this name?)"
        }
        let firstLine = trimmed.prefix { $0 != "\n" && $0 != "\r" }.prefix(60)
        return "looks like text (\"\(firstLine)\"): a git-LFS pointer or a saved web page?"
    }

    /// Printable ASCII, tab/CR/LF, or valid UTF-8 multi-byte text (a cut at the window's end is allowed).
    static func looksLikeText(_ bytes: [UInt8]) -> Bool {
        guard !bytes.isEmpty else { return false }
        for b in bytes where b < 0x20 && b != 0x09 && b != 0x0A && b != 0x0D && b != 0x0C { return false }
        if bytes.contains(0x7F) { return false }
        // Allow a multi-byte character cut at the end of the window.
        for cut in 0...min(3, bytes.count - 1) {
            if String(validating: bytes.dropLast(cut), as: UTF8.self) != nil { return true }
        }
        return false
    }

    /// The `size N` line of a git-LFS pointer.
    static func lfsSize(_ text: String) -> Int? {
        for line in text.split(whereSeparator: \.isNewline) where line.hasPrefix("size ") {
            return Int(line.dropFirst("size ".count).drop(while: { $0 == " " }))
        }
        return nil
    }
}
