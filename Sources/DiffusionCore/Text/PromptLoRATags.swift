/// A LoRA asked for by a `<lora:NAME:WEIGHT>` tag in a prompt, for the pipeline to resolve through
/// the LoRA library.
public struct PromptLoRARequest: Sendable, Equatable {
    /// The name as written (a library name, a file stem or a path; resolving it is the caller's job).
    public var name: String
    /// The multiplier for the text encoder(s) (A1111's `te`, the first number).
    public var textEncoderWeight: Double
    /// The multiplier for the UNet (A1111's `unet`, the second number; the first when absent).
    public var unetWeight: Double
    /// The tag as written, for messages.
    public var tag: String
    /// Whether the tag gives a weight (`<lora:NAME>` does not: the LoRA's preferred weight applies, else 1).
    public var givesWeight: Bool

    public init(name: String, textEncoderWeight: Double, unetWeight: Double, tag: String, givesWeight: Bool = true) {
        self.name = name
        self.textEncoderWeight = textEncoderWeight
        self.unetWeight = unetWeight
        self.tag = tag
        self.givesWeight = givesWeight
    }
}

/// The extra-network tags of a prompt: the text without them, the LoRAs asked for, and the tags of kinds this
/// library does not run (taken out of the text all the same, as A1111 does).
public struct PromptTags: Sendable, Equatable {
    /// The prompt with every `<kind:…>` tag cut out.
    public var prompt: String
    /// The `<lora:…>` / `<lyco:…>` requests, in order.
    public var loras: [PromptLoRARequest]
    /// Tags of other kinds (`<hypernet:…>`), as written, in order: removed and not applied.
    public var ignored: [String]
}

/// Extra-network tags (`<kind:arguments>`, A1111 `modules/extra_networks.py`; stable-diffusion.cpp reads
/// `<lora:NAME:WEIGHT>` the same way) taken out of a prompt.
///
/// `<lora:NAME>`, `<lora:NAME:W>`, `<lora:NAME:TE:UNET>` and the named forms `te=`, `unet=` are read as
/// A1111 reads them (`te` first, then `unet`, which defaults to `te`); `<lyco:…>` (the LyCORIS extension's
/// spelling) means the same. The tag is cut out exactly, as A1111 does, leaving the text around it as it was.
/// Other kinds (`<hypernet:…>`) are cut out too and listed in ``PromptTags/ignored``: A1111 likewise removes
/// every extra-network tag and skips the kinds it has no handler for with a console note; callers report them.
public enum PromptLoRATags {
    /// The prompt without its tags, and the LoRAs they ask for, in order (tags of other kinds are dropped;
    /// ``parse(_:)`` lists them).
    /// - Throws: ``TextError/malformedLoRATag(tag:reason:)`` for a tag without a name, a weight that is
    ///   not a number, an unknown named argument or an unclosed `<lora:`.
    public static func extract(from prompt: String) throws(TextError) -> (prompt: String, loras: [PromptLoRARequest]) {
        let tags = try parse(prompt)
        return (tags.prompt, tags.loras)
    }

    /// The prompt without its tags, the LoRAs they ask for and the tags of other kinds, in order.
    /// - Throws: ``TextError/malformedLoRATag(tag:reason:)`` as ``extract(from:)``.
    public static func parse(_ prompt: String) throws(TextError) -> PromptTags {
        let chars = Array(prompt)
        var out: [Character] = []
        var loras: [PromptLoRARequest] = []
        var ignored: [String] = []
        var i = 0
        while i < chars.count {
            guard chars[i] == "<", let tag = tagEnd(chars, from: i) else {
                if chars[i] == "<", let kind = unclosedLoRA(chars, from: i) {
                    throw .malformedLoRATag(tag: String(chars[i..<min(chars.count, i + 40)]), reason: "<\(kind): is not closed with >")
                }
                out.append(chars[i])
                i += 1
                continue
            }
            let text = String(chars[i...tag.end])
            switch tag.kind.lowercased() {
            case "lora", "lyco":
                loras.append(try request(arguments: tag.arguments, tag: text))
            default:
                ignored.append(text)
            }
            i = tag.end + 1
        }
        return PromptTags(prompt: String(out), loras: loras, ignored: ignored)
    }

    /// `<(\w+):([^>]+)>` starting at `start`.
    private static func tagEnd(_ chars: [Character], from start: Int) -> (kind: String, arguments: String, end: Int)? {
        var j = start + 1
        while j < chars.count, isWordCharacter(chars[j]) { j += 1 }
        guard j > start + 1, j < chars.count, chars[j] == ":" else { return nil }
        let kind = String(chars[(start + 1)..<j])
        var k = j + 1
        while k < chars.count, chars[k] != ">" { k += 1 }
        guard k < chars.count, k > j + 1 else { return nil }
        return (kind, String(chars[(j + 1)..<k]), k)
    }

    /// `<lora:` or `<lyco:` never closed (or closed at once, `<lora:>`): the kind, else `nil`.
    private static func unclosedLoRA(_ chars: [Character], from start: Int) -> String? {
        for kind in ["lora", "lyco"] {
            let head = Array("<\(kind):")
            if start + head.count <= chars.count,
               chars[start..<(start + head.count)].map({ Character($0.lowercased()) }) == head {
                return kind
            }
        }
        return nil
    }

    private static func isWordCharacter(_ c: Character) -> Bool { c.isLetter || c.isNumber || c == "_" }

    private static func request(arguments: String, tag: String) throws(TextError) -> PromptLoRARequest {
        var positional: [String] = []
        var named: [String: String] = [:]
        for item in arguments.split(separator: ":", omittingEmptySubsequences: false) {
            let s = String(item)
            if let eq = s.firstIndex(of: "=") {
                named[s[..<eq].trimmingWhitespace()] = s[s.index(after: eq)...].trimmingWhitespace()
            } else {
                positional.append(s.trimmingWhitespace())
            }
        }
        guard let name = positional.first, !name.isEmpty else {
            throw .malformedLoRATag(tag: tag, reason: "no LoRA name")
        }
        func number(_ text: String, _ what: String) throws(TextError) -> Double {
            guard let value = Double(text), value.isFinite else {
                throw .malformedLoRATag(tag: tag, reason: "\(what) \"\(text)\" is not a number")
            }
            return value
        }
        if positional.count > 3 || named["dyn"] != nil {
            throw .malformedLoRATag(tag: tag, reason: "dynamic rank (dyn) is not supported")
        }
        if let unknown = named.keys.first(where: { $0 != "te" && $0 != "unet" }) {
            throw .malformedLoRATag(tag: tag, reason: "unknown argument \(unknown)= (known: te=, unet=)")
        }
        var te = positional.count > 1 ? try number(positional[1], "weight") : 1
        if let t = named["te"] { te = try number(t, "te") }
        var unet = positional.count > 2 ? try number(positional[2], "unet weight") : te
        if let u = named["unet"] { unet = try number(u, "unet") }
        let givesWeight = positional.count > 1 || named["te"] != nil || named["unet"] != nil
        return PromptLoRARequest(name: name, textEncoderWeight: te, unetWeight: unet, tag: tag, givesWeight: givesWeight)
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
