import Foundation

/// The settings of a generated picture, written into its PNG so that AUTOMATIC1111 ("PNG Info", "Send to
/// txt2img") and InvokeAI ("Recall parameters") open the file with them.
public struct GenerationMetadata: Sendable, Equatable {
    /// One LoRA applied at generation time.
    public struct LoRA: Sendable, Equatable {
        /// The name A1111 and InvokeAI know it by (the file name without extension).
        public var name: String
        /// The UNet strength (A1111's `<lora:name:weight>`).
        public var weight: Double
        /// The SHA-256 of the file as lowercase hex, when known (A1111 writes its first 12 characters).
        public var sha256: String?

        public init(name: String, weight: Double, sha256: String? = nil) {
            self.name = name
            self.weight = weight
            self.sha256 = sha256
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

    /// The prompt as A1111 stores it: every LoRA as a `<lora:name:weight>` tag, appended unless the prompt
    /// already names it in a tag.
    public var promptWithLoRATags: String {
        var text = prompt
        for lora in loras where !prompt.contains("<lora:\(lora.name):") && !prompt.contains("<lora:\(lora.name)>") {
            let tag = "<lora:\(lora.name):\(Self.format(lora.weight))>"
            text += text.isEmpty ? tag : ", \(tag)"
        }
        return text
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
        let hashed = loras.compactMap { lora in lora.sha256.map { "\(lora.name): \(String($0.prefix(12)))" } }
        if !hashed.isEmpty { fields.append(("Lora hashes", hashed.joined(separator: ", "))) }
        if let version { fields.append(("Version", version)) }
        let settings = fields.map { "\($0.0): \(Self.a1111Quote($0.1))" }.joined(separator: ", ")
        var text = promptWithLoRATags
        if !negativePrompt.isEmpty { text += "\nNegative prompt: \(negativePrompt)" }
        text += "\n" + settings
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The JSON of InvokeAI's `invokeai_metadata` chunk (its core-metadata fields: `generation_mode`,
    /// `positive_prompt`, `negative_prompt`, `width`, `height`, `seed`, `rand_device`, `cfg_scale`, `steps`,
    /// `scheduler`, `clip_skip`, `model`, `loras` with `model` and `weight`, `strength`, `app_version`).
    public var invokeAIMetadataJSON: String {
        var object: [String: Any] = [
            "generation_mode": (base == .sdxl ? "sdxl_" : "") + mode.rawValue,
            "positive_prompt": prompt,
            "negative_prompt": negativePrompt,
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
        if !loras.isEmpty {
            object["loras"] = loras.map { ["model": identifier(name: $0.name, sha256: $0.sha256, type: "lora"), "weight": $0.weight] as [String: Any] }
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
