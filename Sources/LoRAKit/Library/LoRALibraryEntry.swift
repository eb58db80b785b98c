import Foundation

/// One LoRA found in a ``LoRALibrary`` folder, described from its header, its
/// metadata and the files next to it. Tensor data is never decoded to build it
/// (only the few-byte `alpha` / `scale` scalars that ``LoRAFile`` reads).
public struct LoRALibraryEntry: Sendable, Hashable, Codable {
    /// The file stem: `anime_style` for `styles/anime_style.safetensors`. The name used to pick it.
    public var name: String
    /// The path relative to the library folder, `/`-separated (`styles/anime_style.safetensors`).
    public var relativePath: String
    /// The absolute path of the file.
    public var path: String
    /// Other names it answers to: kohya's `ss_output_name` and `modelspec.title`, when they differ from ``name``.
    public var aliases: [String]
    /// The key spelling most modules use.
    public var format: LoRAFormat
    /// The algorithms of its modules, the most used first (`[.lora, .locon]` for a kohya LoCon file).
    public var families: [AdapterFamily]
    /// Number of modules (patched layers).
    public var moduleCount: Int
    /// Number of DoRA modules (0 for most files).
    public var doraModuleCount: Int
    /// The model family it is for, when the shapes or metadata decide.
    public var baseModel: BaseModel?
    /// What the training metadata says, which may differ from ``baseModel`` (see ``baseModelConflict``).
    public var baseModelFromMetadata: BaseModel?
    /// A disagreement between the shapes and the metadata, when there is one.
    public var baseModelConflict: String?
    /// The components patched (UNet, text encoders).
    public var components: [ModelComponent]
    /// Ranks and alphas over the modules.
    public var rank: LoRARankSummary
    /// Trigger words: the sidecar's first (as the user wrote them), then `modelspec.trigger_phrase`,
    /// then the most frequent training tags (`ss_tag_frequency`); duplicates removed.
    public var triggerWords: [String]
    /// Textual-inversion tokens bundled in the file (reported, not merged).
    public var embeddedTokens: [String]
    /// The `<stem>.json` sidecar as A1111 / InvokeAI / Civitai helpers write it, when present.
    public var sidecar: LoRASidecar?
    /// Absolute path of a preview image next to the file (`<stem>.png`, `<stem>.preview.png`, `<stem>.jpg`…).
    public var previewImage: String?
    /// Size of the file in bytes.
    public var fileSize: Int
    /// The file's modification time.
    public var modified: Date
    /// SHA-256 hashes, once computed (``LoRALibrary/hashes(for:)``); cached in the index with the entry.
    public var hashes: LoRAFileHashes?

    /// The family shown in one word: the most used, plus `+DoRA` when any module is DoRA.
    public var familySummary: String {
        let main = families.first?.displayName ?? "-"
        let more = families.count > 1 ? "+" + families.dropFirst().map(\.displayName).joined(separator: "+") : ""
        return main + more + (doraModuleCount > 0 ? "+DoRA" : "")
    }

    /// Whether the LoRA can be used with a model of family `base` (true when its own base is unknown).
    public func isCompatible(with base: BaseModel) -> Bool {
        baseModel == nil || baseModel == base
    }

    /// Every name a lookup matches, lowercased: the stem, the path without extension, the aliases.
    var lookupNames: [String] {
        ([name, LoRALibraryError.stemPath(relativePath)] + aliases).map { $0.lowercased() }
    }
}

/// The ranks and alphas of a LoRA's modules.
public struct LoRARankSummary: Sendable, Hashable, Codable {
    /// The smallest rank over the modules that have one.
    public var minRank: Int?
    /// The largest rank.
    public var maxRank: Int?
    /// The rank most modules use.
    public var commonRank: Int?
    /// The smallest stored alpha.
    public var minAlpha: Float?
    /// The largest stored alpha.
    public var maxAlpha: Float?

    /// An empty summary (a file with no ranked modules).
    public init(minRank: Int? = nil, maxRank: Int? = nil, commonRank: Int? = nil, minAlpha: Float? = nil, maxAlpha: Float? = nil) {
        self.minRank = minRank
        self.maxRank = maxRank
        self.commonRank = commonRank
        self.minAlpha = minAlpha
        self.maxAlpha = maxAlpha
    }

    /// Summarises `modules`.
    init(modules: [LoRAModule]) {
        let ranks = modules.compactMap(\.rank)
        let alphas = modules.compactMap(\.alpha).filter(\.isFinite)
        var counts: [Int: Int] = [:]
        for r in ranks { counts[r, default: 0] += 1 }
        self.init(minRank: ranks.min(), maxRank: ranks.max(),
                  commonRank: counts.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key,
                  minAlpha: alphas.min(), maxAlpha: alphas.max())
    }

    /// `8`, `4–16`, or `-` when no module has a rank.
    public var rankText: String {
        guard let lo = minRank, let hi = maxRank else { return "-" }
        return lo == hi ? "\(lo)" : "\(lo)–\(hi)"
    }

    /// `α 4`, `α 1–8`, or empty when no module stores an alpha.
    public var alphaText: String {
        guard let lo = minAlpha, let hi = maxAlpha else { return "" }
        func f(_ x: Float) -> String { x == x.rounded() && abs(x) < 1e9 ? String(Int(x)) : String(x) }
        return lo == hi ? "α \(f(lo))" : "α \(f(lo))–\(f(hi))"
    }
}

/// The hashes a library records for a file: A1111's and kohya's.
public struct LoRAFileHashes: Sendable, Hashable, Codable {
    /// SHA-256 of the whole file, lowercase hex (its first 10 digits are A1111's "AutoV2").
    public var sha256: String
    /// kohya's `sshs_model_hash`: SHA-256 of the bytes after the header.
    public var sshsModelHash: String

    /// Creates the record from both digests.
    public init(sha256: String, sshsModelHash: String) {
        self.sha256 = sha256
        self.sshsModelHash = sshsModelHash
    }

    /// A1111's short hash: the first 10 digits of ``sha256``.
    public var autoV2: String { String(sha256.prefix(10)) }

    /// Whether either hash starts with `prefix` (lowercase hex).
    func matches(prefix: String) -> Bool {
        sha256.hasPrefix(prefix) || sshsModelHash.hasPrefix(prefix)
    }
}

/// A file in the library folder that is not a usable LoRA, with the reason.
public struct LoRALibrarySkippedFile: Sendable, Hashable, Codable {
    /// What the file is, as far as the header tells.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// A full Stable Diffusion checkpoint (UNet, VAE and text encoders in one file).
        case checkpoint
        /// The weights of one model component (a diffusers UNet or text encoder, a ControlNet…).
        case modelComponent = "model-component"
        /// A VAE.
        case vae
        /// A textual-inversion embedding.
        case textualInversion = "textual-inversion"
        /// A PyTorch pickle (`.ckpt`, `.pt`, `.bin`, or a `.safetensors` that is one); never loaded.
        case pickle
        /// Not a valid safetensors file (truncated, hostile or malformed header).
        case invalidSafetensors = "invalid-safetensors"
        /// The file could not be opened or read.
        case unreadable
        /// Valid safetensors with no LoRA module in it, and none of the above.
        case notALoRA = "not-a-lora"
    }

    /// The file stem.
    public var name: String
    /// The path relative to the library folder.
    public var relativePath: String
    /// The absolute path.
    public var path: String
    /// What the file is.
    public var kind: Kind
    /// Why it was skipped, in words.
    public var reason: String
    /// Size of the file in bytes.
    public var fileSize: Int
}
