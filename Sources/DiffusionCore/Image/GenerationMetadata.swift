import Foundation

/// The settings of a generated picture, written into its PNG so that AUTOMATIC1111 ("PNG Info", "Send to
/// txt2img") and InvokeAI ("Recall parameters") open the file with them.
public struct GenerationMetadata: Sendable, Equatable {
    /// One LoRA applied at generation time.
    public struct LoRA: Sendable, Equatable {
        /// Where the LoRA was asked for, which decides how A1111's `parameters` text carries it.
        public enum Source: Sendable, Equatable {
            /// Given beside the prompt (`--lora`, ``GenerationRequest/loras``, the pipeline's own): A1111's text
            /// gets a `<lora:…>` tag for it appended to the prompt.
            case given
            /// A tag of the prompt, as written there (`<lora:name:0.8>`): the prompt already carries it.
            case promptTag(String)
            /// A tag of the negative prompt, as written there: A1111 applies tags of the positive prompt only, so
            /// its text moves the tag to the prompt.
            case negativePromptTag(String)
        }

        /// The name A1111 and InvokeAI know it by (the library name: the file name without extension).
        public var name: String
        /// The UNet strength (A1111's `unet` multiplier; InvokeAI's `weight`).
        public var weight: Double
        /// The text-encoder strength (A1111's `te` multiplier) when it differs from ``weight``.
        public var textEncoderWeight: Double?
        /// The SHA-256 of the whole file as lowercase hex (InvokeAI's `hash` and `key`), when known.
        public var sha256: String?
        /// The hash A1111 lists under "Lora hashes" (it writes the first 12 characters): the file's
        /// `sshs_model_hash` metadata, else for a `.safetensors` file the SHA-256 of the bytes after its header
        /// (A1111's "addnet" hash), as A1111's `NetworkOnDisk` takes it. Nil: the LoRA is not listed there.
        public var a1111Hash: String?
        public var source: Source

        public init(name: String, weight: Double, textEncoderWeight: Double? = nil, sha256: String? = nil,
                    a1111Hash: String? = nil, source: Source = .given) {
            self.name = name
            self.weight = weight
            self.textEncoderWeight = textEncoderWeight == weight ? nil : textEncoderWeight
            self.sha256 = sha256
            self.a1111Hash = a1111Hash
            self.source = source
        }

        /// The name as the prompt mentions it (A1111 keys "Lora hashes" by it): the tag's name for a prompt tag,
        /// else ``name``.
        public var mentionedName: String {
            guard case let .promptTag(tag) = source, let parsed = try? PromptLoRATags.parse(tag).loras.first else { return name }
            return parsed.name
        }

        /// A1111's tag for it: `<lora:NAME:W>`, or `<lora:NAME:TE:UNET>` when the strengths differ.
        public var a1111Tag: String { tag(naming: name) }

        func tag(naming name: String) -> String {
            guard let te = textEncoderWeight else { return "<lora:\(name):\(GenerationMetadata.format(weight))>" }
            return "<lora:\(name):\(GenerationMetadata.format(te)):\(GenerationMetadata.format(weight))>"
        }

        /// For a prompt tag whose written strengths are not the ones applied (`<lora:NAME>` took a preferred
        /// weight or the LCM recipe's), the tag to write instead: A1111 would apply 1.
        var rewrittenPromptTag: (written: String, replacement: String)? {
            guard case let .promptTag(written) = source, let parsed = try? PromptLoRATags.parse(written).loras.first else { return nil }
            let te = textEncoderWeight ?? weight
            if parsed.givesWeight, Float(parsed.unetWeight) == Float(weight), Float(parsed.textEncoderWeight) == Float(te) { return nil }
            return (written, tag(naming: parsed.name))
        }
    }

    /// The model family, for InvokeAI's `base` field.
    public enum Base: String, Sendable, Equatable {
        case sd1 = "sd-1", sd2 = "sd-2", sdxl
    }

    public enum Mode: String, Sendable, Equatable { case txt2img, img2img, inpaint }

    public var prompt: String
    public var negativePrompt: String
    public var steps: Int
    /// The A1111 sampler label ("Euler a", "DPM++ 2M", "LCM"…).
    public var sampler: String
    /// A1111's "Schedule type" ("Karras", "Exponential"…) when not the sampler's default.
    public var scheduleType: String?
    /// InvokeAI's scheduler name ("euler_a", "dpmpp_2m_k", "lcm"…).
    public var invokeScheduler: String?
    public var cfgScale: Double
    public var seed: UInt64
    public var width: Int
    public var height: Int
    public var modelName: String?
    /// The SHA-256 of the model file as lowercase hex (A1111 writes its first 10 characters).
    public var modelSHA256: String?
    public var base: Base?
    public var loras: [LoRA]
    /// A1111's "Clip skip" (1 = the last layer, 2 = the one before; diffusers' `clip_skip` plus one).
    public var clipSkip: Int?
    /// img2img strength (A1111's "Denoising strength").
    public var strength: Double?
    public var mode: Mode
    /// The program that made the picture ("LoRAKit 0.x"), A1111's "Version".
    public var version: String?

    public init(prompt: String, negativePrompt: String = "", steps: Int, sampler: String, scheduleType: String? = nil,
                invokeScheduler: String? = nil, cfgScale: Double, seed: UInt64, width: Int, height: Int,
                modelName: String? = nil, modelSHA256: String? = nil, base: Base? = nil, loras: [LoRA] = [],
                clipSkip: Int? = nil, strength: Double? = nil, mode: Mode = .txt2img, version: String? = nil) {
        self.prompt = prompt
        self.negativePrompt = negativePrompt
        self.steps = steps
        self.sampler = sampler
        self.scheduleType = scheduleType
        self.invokeScheduler = invokeScheduler
        self.cfgScale = cfgScale
        self.seed = seed
        self.width = width
        self.height = height
        self.modelName = modelName
        self.modelSHA256 = modelSHA256
        self.base = base
        self.loras = loras
        self.clipSkip = clipSkip
        self.strength = strength
        self.mode = mode
        self.version = version
    }
}

extension GenerationMetadata {
    /// A number as a person writes it: `7`, `0.8`, `0.35` (shortest round-trip form, no trailing `.0`).
    static func format(_ x: Double) -> String {
        if x.isFinite, x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
        return "\(x)"
    }

    /// The prompt as A1111 stores it: the prompt as written (its own `<lora:…>` tags included, a tag without the
    /// strength applied given it — A1111 would apply 1 to `<lora:NAME>`), then a tag for
    /// every LoRA taken from the negative prompt and for every LoRA given beside the prompt unless the prompt
    /// already has a tag naming it: each LoRA once, `<lora:NAME:W>` or `<lora:NAME:TE:UNET>` when its strengths
    /// differ.
    public var promptWithLoRATags: String {
        var text = prompt
        // A tag written without the strength applied (`<lora:NAME>` at a preferred weight or the LCM recipe's)
        // gets it written out.
        for lora in loras {
            guard let rewrite = lora.rewrittenPromptTag, let range = text.range(of: rewrite.written) else { continue }
            text.replaceSubrange(range, with: rewrite.replacement)
        }
        let written = Set(((try? PromptLoRATags.parse(prompt).loras) ?? []).map(\.name))
        for lora in loras {
            switch lora.source {
            case .promptTag: continue
            case .given where written.contains(lora.name): continue
            case .given, .negativePromptTag: break
            }
            text += text.isEmpty ? lora.a1111Tag : ", \(lora.a1111Tag)"
        }
        return text
    }

    /// The negative prompt as A1111 stores it: without the tags that moved to the prompt.
    public var negativePromptForA1111: String {
        var text = negativePrompt
        for lora in loras {
            guard case let .negativePromptTag(tag) = lora.source, let range = text.range(of: tag) else { continue }
            text.removeSubrange(range)
        }
        return text.trimmingCharacters(in: .whitespaces)
    }

    /// A1111's "Lora hashes" value: `name: hash12` for each LoRA with an A1111 hash, by the name the prompt
    /// mentions it by (`:` and `,` removed), each name once, in order.
    public var a1111LoRAHashes: String? {
        var seen: [String] = []
        var entries: [String] = []
        for lora in loras {
            guard let hash = lora.a1111Hash, !hash.isEmpty else { continue }
            let key = lora.mentionedName.filter { $0 != ":" && $0 != "," }
            if let index = seen.firstIndex(of: key) {
                entries[index] = "\(key): \(hash.prefix(12))"  // a later mention replaces the earlier, as A1111's dict does
                continue
            }
            seen.append(key)
            entries.append("\(key): \(hash.prefix(12))")
        }
        return entries.isEmpty ? nil : entries.joined(separator: ", ")
    }

    /// A prompt without its extra-network tags: what the text encoder was given (InvokeAI's prompts carry no
    /// tags; its LoRAs are listed apart).
    static func withoutTags(_ prompt: String) -> String {
        guard let parsed = try? PromptLoRATags.parse(prompt) else { return prompt }
        return parsed.prompt.trimmingCharacters(in: .whitespaces)
    }

    /// A1111's value quoting: a value with a comma, colon or newline is written as a JSON string.
    static func a1111Quote(_ value: String) -> String {
        guard value.contains(",") || value.contains(":") || value.contains("\n") else { return value }
        let data = (try? JSONSerialization.data(withJSONObject: [value], options: [.withoutEscapingSlashes])) ?? Data()
        let array = String(decoding: data, as: UTF8.self)
        return String(array.dropFirst().dropLast())
    }

    /// The text of A1111's `parameters` chunk: the prompt (with `<lora:…>` tags), a `Negative prompt:` line
    /// when there is one, then `Steps: …, Sampler: …, CFG scale: …, Seed: …, Size: WxH, Model hash: …,
    /// Model: …, Denoising strength: …, Clip skip: …, Lora hashes: "name: hash, …", Version: …`, in A1111's
    /// order, each value quoted as A1111 quotes it.
    public var a1111Parameters: String {
        var fields: [(String, String)] = [
            ("Steps", String(steps)),
            ("Sampler", sampler),
        ]
        if let scheduleType { fields.append(("Schedule type", scheduleType)) }
        fields.append(("CFG scale", Self.format(cfgScale)))
        fields.append(("Seed", String(seed)))
        fields.append(("Size", "\(width)x\(height)"))
        if let hash = modelSHA256 { fields.append(("Model hash", String(hash.prefix(10)))) }
        if let modelName { fields.append(("Model", modelName)) }
        if let strength { fields.append(("Denoising strength", Self.format(strength))) }
        if let clipSkip, clipSkip > 1 { fields.append(("Clip skip", String(clipSkip))) }
        if let hashes = a1111LoRAHashes { fields.append(("Lora hashes", hashes)) }
        if let version { fields.append(("Version", version)) }
        let settings = fields.map { "\($0.0): \(Self.a1111Quote($0.1))" }.joined(separator: ", ")
        var text = promptWithLoRATags
        let negative = negativePromptForA1111
        if !negative.isEmpty { text += "\nNegative prompt: \(negative)" }
        text += "\n" + settings
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The JSON of InvokeAI's `invokeai_metadata` chunk (its core-metadata fields: `generation_mode`,
    /// `positive_prompt`, `negative_prompt`, `width`, `height`, `seed`, `rand_device`, `cfg_scale`, `steps`,
    /// `scheduler`, `clip_skip`, `model`, `loras` with `model` and `weight`, `strength`, `app_version`).
    ///
    /// InvokeAI reads no `<lora:…>` tags: the prompts are written as the text encoder got them (tags removed)
    /// and every LoRA — given or from a tag — is listed once under `loras`, as a `ModelIdentifierField`
    /// (`key`, `hash`, `name`, `base`, `type: "lora"`) with its `weight` (the UNet strength: InvokeAI has one
    /// weight per LoRA). A LoRA applied twice is listed once at the sum of its weights (the same delta).
    public var invokeAIMetadataJSON: String {
        var object: [String: Any] = [
            "generation_mode": (base == .sdxl ? "sdxl_" : "") + mode.rawValue,
            "positive_prompt": Self.withoutTags(prompt),
            "negative_prompt": Self.withoutTags(negativePrompt),
            "width": width,
            "height": height,
            "seed": seed,
            "rand_device": "cpu",
            "cfg_scale": cfgScale,
            "cfg_rescale_multiplier": 0.0,
            "steps": steps,
        ]
        if let invokeScheduler { object["scheduler"] = invokeScheduler }
        if let clipSkip { object["clip_skip"] = max(0, clipSkip - 1) }
        if let strength { object["strength"] = strength }
        if let version { object["app_version"] = version }
        func identifier(name: String, sha256: String?, type: String) -> [String: Any] {
            var m: [String: Any] = ["name": name, "type": type, "key": sha256.map { "sha256:\($0)" } ?? name]
            if let sha256 { m["hash"] = "sha256:\(sha256)" }
            if let base { m["base"] = base.rawValue }
            return m
        }
        if let modelName { object["model"] = identifier(name: modelName, sha256: modelSHA256, type: "main") }
        var listed: [(identity: String, lora: LoRA, weight: Double)] = []
        for lora in loras {
            let identity = lora.sha256 ?? "name:" + lora.name
            if let index = listed.firstIndex(where: { $0.identity == identity }) {
                listed[index].weight += lora.weight
            } else {
                listed.append((identity, lora, lora.weight))
            }
        }
        if !listed.isEmpty {
            object["loras"] = listed.map { ["model": identifier(name: $0.lora.name, sha256: $0.lora.sha256, type: "lora"), "weight": $0.weight] as [String: Any] }
        }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// The PNG text chunks to write: `parameters` (A1111) and `invokeai_metadata` (InvokeAI).
    public var pngTextChunks: [PNGTextChunk] {
        [PNGTextChunk(keyword: "parameters", text: a1111Parameters),
         PNGTextChunk(keyword: "invokeai_metadata", text: invokeAIMetadataJSON)]
    }
}
