import Foundation

/// `FILE[:STRENGTH]` or `FILE:unet=X,te=Y` as given to `--lora`.
///
/// A strength is a finite decimal (`0.8`, `-0.5`, `.25`, `+1`): no exponent, hexadecimal, `nan`, `inf`
/// or white space. A value whose part after the last `:` is not a strength is a usage error naming that
/// part, unless the whole value names an existing file (a file name with a colon in it).
struct LoRASpec {
    var path: String
    /// The strength for every component; nil when none was given.
    var strength: Float?
    var unetStrength: Float?
    var textEncoderStrength: Float?

    /// Whether the value gave any strength of its own.
    var givesStrength: Bool { strength != nil || unetStrength != nil || textEncoderStrength != nil }

    /// Parses one `--lora` value; the error is the usage message.
    init(parsing argument: String) throws(SpecError) {
        guard !argument.trimmingCharacters(in: .whitespaces).isEmpty else { throw SpecError("--lora needs a file or a LoRA name") }
        guard let colon = argument.lastIndex(of: ":"), !FileManager.default.fileExists(atPath: argument) else {
            path = argument
            return
        }
        path = String(argument[..<colon])
        let tail = String(argument[argument.index(after: colon)...])
        guard !path.isEmpty else { throw SpecError("--lora \"\(argument)\": no file before ':'") }
        if tail.contains("=") {
            var seen: Set<String> = []
            for part in tail.split(separator: ",", omittingEmptySubsequences: false) {
                let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                guard kv.count == 2 else { throw SpecError("--lora \"\(argument)\": \"\(part)\" is not NAME=STRENGTH") }
                let key: String
                switch kv[0] {
                case "unet": key = "unet"
                case "te", "text_encoder": key = "te"
                case "all", "strength": key = "all"
                default: throw SpecError("--lora \"\(argument)\": unknown component \"\(kv[0])\" (unet, te, text_encoder, all)")
                }
                guard seen.insert(key).inserted else {
                    throw SpecError("--lora \"\(argument)\": \(key == "te" ? "the text-encoder strength" : "\"\(kv[0])\"") is given twice")
                }
                let value = try Self.strength(kv[1], in: argument)
                switch key {
                case "unet": unetStrength = value
                case "te": textEncoderStrength = value
                default: strength = value
                }
            }
        } else {
            strength = try Self.strength(tail, in: argument)
        }
    }

    /// A finite decimal, or the usage error naming `text`.
    static func strength(_ text: String, in argument: String) throws(SpecError) -> Float {
        let digits = text.hasPrefix("-") || text.hasPrefix("+") ? text.dropFirst() : Substring(text)
        let parts = digits.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let isDecimal = !digits.isEmpty && digits != "." && parts.count <= 2
            && parts.allSatisfy { $0.allSatisfy { $0.isASCII && $0.isNumber } }
        guard isDecimal, let value = Float(text), value.isFinite else {
            let problem = text.isEmpty ? "no strength after ':'" : "\"\(text)\" is not a strength"
            throw SpecError("--lora \"\(argument)\": \(problem) (a decimal such as 0.8 or -0.5, or unet=X,te=Y)")
        }
        return value
    }

    struct SpecError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}
