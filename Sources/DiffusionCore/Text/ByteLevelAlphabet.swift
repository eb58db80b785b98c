/// GPT-2's byte-to-character table, which CLIP's vocabulary is written in: the printable bytes
/// (`!`…`~`, `¡`…`¬`, `®`…`ÿ`) stand for themselves, the other 68 bytes map to U+0100 onwards in
/// byte order. Vocabulary entries are strings of these characters, optionally ending in `</w>`.
enum ByteLevelAlphabet {
    /// The character each byte is written as, indexed by byte value.
    static let characters: [Character] = {
        var table = [Character](repeating: " ", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            let printable = (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
            if printable {
                table[byte] = Character(Unicode.Scalar(UInt8(byte)))
            } else {
                table[byte] = Character(Unicode.Scalar(next)!)
                next += 1
            }
        }
        return table
    }()

    /// The 256 characters in CLIP's vocabulary order (`bytes_to_unicode().values()`): the printable bytes first,
    /// then the others in byte order — the first 256 token ids.
    static let clipOrder: [String] = {
        let printable = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
        let rest = (0..<256).filter { !printable.contains($0) }
        return (printable + rest).map { String(characters[$0]) }
    }()

    /// The byte each table character stands for.
    static let bytes: [Character: UInt8] = {
        var map: [Character: UInt8] = [:]
        for (byte, char) in characters.enumerated() { map[char] = UInt8(byte) }
        return map
    }()

    /// The vocabulary spelling of a byte string.
    static func spelling(_ bytes: some Sequence<UInt8>) -> String {
        String(bytes.map { characters[Int($0)] })
    }
}
