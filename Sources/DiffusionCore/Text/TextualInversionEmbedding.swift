import Foundation
import LoRAKit

/// The vectors of an embedding for one text encoder: `count` rows of `width` values, row-major.
public struct EmbeddingVectors: Sendable, Equatable {
    /// The number of vectors (prompt positions they fill).
    public var count: Int
    /// The width of each vector (the text encoder's hidden size).
    public var width: Int
    /// `count × width` values.
    public var values: [Float]

    public init(count: Int, width: Int, values: [Float]) {
        self.count = count
        self.width = width
        self.values = values
    }

    /// Vector `i`.
    public func row(_ i: Int) -> ArraySlice<Float> { values[(i * width)..<((i + 1) * width)] }
}

/// A textual-inversion embedding: one or more vectors that stand in for a word of the prompt.
///
/// Read from the safetensors spellings people have (A1111 and InvokeAI read the same ones):
/// - `emb_params` `[n, width]` (A1111 / kohya), or any file with a single tensor (diffusers'
///   `learned_embeds.safetensors`, keyed by its token, `[width]` or `[n, width]`);
/// - `string_to_param.*` `[n, width]` (A1111's own format, flattened);
/// - `clip_l` `[n, 768]` + `clip_g` `[n, 1280]` (SDXL: one set per text encoder).
///
/// Pickled embeddings (`.pt`, `.bin`, `.ckpt`, `.pth`, or a `.safetensors` that is really a pickle or a
/// zip) are refused: unpickling can run code.
public struct TextualInversionEmbedding: Sendable, Equatable {
    /// What the prompt says to use it: the file stem (A1111 and InvokeAI), or the token a LoRA file names.
    public var name: String
    /// The vectors, `[n, width]`, for SD1.x / SD2.x (one text encoder).
    public var single: EmbeddingVectors?
    /// SDXL's vectors for the first text encoder (CLIP ViT-L, 768 wide).
    public var clipL: EmbeddingVectors?
    /// SDXL's vectors for the second text encoder (OpenCLIP bigG, 1280 wide).
    public var clipG: EmbeddingVectors?
    /// Whether the bare name (A1111) as well as `<name>` (InvokeAI) calls it up. Tokens that are
    /// already written in brackets (`<s1>` of a pivotal-tuning LoRA) are matched only as written.
    public var matchesBareName: Bool

    /// Creates an embedding from its vectors.
    public init(name: String, single: EmbeddingVectors? = nil, clipL: EmbeddingVectors? = nil, clipG: EmbeddingVectors? = nil, matchesBareName: Bool? = nil) {
        self.name = name
        self.single = single
        self.clipL = clipL
        self.clipG = clipG
        self.matchesBareName = matchesBareName ?? !(name.hasPrefix("<") && name.hasSuffix(">"))
    }

    /// The number of vectors (tokens' worth of the prompt) it takes.
    public var vectorCount: Int { (single ?? clipL ?? clipG)?.count ?? 0 }

    /// Loads an embedding file; the name defaults to the file stem.
    /// - Throws: ``TextError/pickledEmbedding(file:)``, ``TextError/unreadableEmbedding(file:underlying:)``,
    ///   ``TextError/invalidEmbedding(file:reason:)``.
    public init(contentsOf url: URL, name: String? = nil) throws(TextError) {
        let file = url.lastPathComponent
        if ["pt", "bin", "ckpt", "pth"].contains(url.pathExtension.lowercased()) { throw .pickledEmbedding(file: file) }
        let st: SafetensorsFile
        do { st = try SafetensorsFile(contentsOf: url) } catch {
            if case let .notSafetensors(reason) = error, reason.contains("pickle") || reason.contains("zip") {
                throw .pickledEmbedding(file: file)
            }
            throw .unreadableEmbedding(file: file, underlying: error)
        }
        let stem = url.deletingPathExtension().lastPathComponent
        try self.init(tensors: Dictionary(uniqueKeysWithValues: st.tensors.map { ($0.name, st.tensor($0)) }),
                      name: name ?? stem, file: file)
    }

    /// Reads the vectors from a file's tensors (keys as in the file, or relative to a `bundle_emb.NAME.` prefix).
    init(tensors: [String: TensorView], name: String, file: String) throws(TextError) {
        func matrix(_ view: TensorView) throws(TextError) -> EmbeddingVectors {
            let shape = view.shape
            guard view.dtype.isFloatingPoint else {
                throw .invalidEmbedding(file: file, reason: "\(view.name) holds \(view.dtype) values, not floats")
            }
            let rows: Int, width: Int
            switch shape.count {
            case 1: (rows, width) = (1, shape[0])
            case 2: (rows, width) = (shape[0], shape[1])
            default: throw .invalidEmbedding(file: file, reason: "\(view.name) has shape \(shape), not [vectors, width]")
            }
            guard rows >= 1, rows <= 75, width >= 1 else {
                throw .invalidEmbedding(file: file, reason: "\(view.name) has shape \(shape): \(rows) vectors of width \(width)")
            }
            let values = view.floats()
            guard values.allSatisfy(\.isFinite) else {
                throw .invalidEmbedding(file: file, reason: "\(view.name) holds NaN or infinite values")
            }
            return EmbeddingVectors(count: rows, width: width, values: values)
        }
        if let l = tensors["clip_l"], let g = tensors["clip_g"] {
            let clipL = try matrix(l), clipG = try matrix(g)
            guard clipL.count == clipG.count else {
                throw .invalidEmbedding(file: file, reason: "clip_l has \(clipL.count) vectors but clip_g has \(clipG.count)")
            }
            self.init(name: name, clipL: clipL, clipG: clipG)
            return
        }
        if tensors["clip_l"] != nil || tensors["clip_g"] != nil {
            throw .invalidEmbedding(file: file, reason: "an SDXL embedding needs both clip_l and clip_g")
        }
        let params = tensors.keys.filter { $0.hasPrefix("string_to_param.") }.sorted()
        if !params.isEmpty {
            guard params.count == 1, let view = tensors[params[0]] else {
                throw .invalidEmbedding(file: file, reason: "more than one term in string_to_param (\(params.joined(separator: ", ")))")
            }
            self.init(name: name, single: try matrix(view))
            return
        }
        // Companion keys A1111 writes next to the vectors, none of them vectors.
        let ignorable: Set<String> = ["string_to_token", "name", "step", "sd_checkpoint", "sd_checkpoint_name"]
        let vectorKeys = tensors.keys.filter { !ignorable.contains($0) && !$0.hasPrefix("string_to_token.") }.sorted()
        if let key = vectorKeys.first(where: { $0 == "emb_params" }) ?? (vectorKeys.count == 1 ? vectorKeys.first : nil),
           let view = tensors[key] {
            self.init(name: name, single: try matrix(view))
            return
        }
        throw .invalidEmbedding(file: file, reason: vectorKeys.isEmpty
            ? "no tensors"
            : "expected emb_params, string_to_param.*, clip_l + clip_g or one tensor; found \(vectorKeys.prefix(6).joined(separator: ", "))")
    }

    /// The vectors for text encoder `index` of a model with `encoderCount` encoders, checked against its width.
    /// - Throws: ``TextError/embeddingWidthMismatch(name:embeddingWidth:encoderWidth:)`` or
    ///   ``TextError/embeddingEncoderMismatch(name:reason:)``.
    public func vectors(encoder index: Int, of encoderCount: Int, width: Int) throws(TextError) -> EmbeddingVectors {
        let chosen: EmbeddingVectors?
        if encoderCount >= 2 {
            guard clipL != nil || clipG != nil else {
                if let single {
                    throw .embeddingWidthMismatch(name: name, embeddingWidth: single.width, encoderWidth: width)
                }
                throw .embeddingEncoderMismatch(name: name, reason: "no vectors")
            }
            chosen = index == 0 ? clipL : clipG
        } else {
            if single == nil, let l = clipL, let g = clipG {
                throw .embeddingEncoderMismatch(name: name,
                    reason: "an SDXL embedding (clip_l \(l.width) + clip_g \(g.width) wide) cannot be used with a single \(width)-wide text encoder")
            }
            chosen = single
        }
        guard let vectors = chosen else { throw .embeddingEncoderMismatch(name: name, reason: "no vectors for text encoder \(index + 1)") }
        guard vectors.width == width else {
            throw .embeddingWidthMismatch(name: name, embeddingWidth: vectors.width, encoderWidth: width)
        }
        return vectors
    }
}

extension TextualInversionEmbedding {
    /// The embeddings a LoRA file carries: pivotal-tuning tokens (cloneofsimo's `<s1>`, `<s2>`, each marked
    /// `<embed>` in the metadata or spelled in angle brackets) and kohya's `bundle_emb.NAME.*` bundles.
    /// - Throws: ``TextError/invalidEmbedding(file:reason:)`` for a bundle that cannot be read.
    public static func embedded(in file: SafetensorsFile, fileName: String = "LoRA") throws(TextError) -> [TextualInversionEmbedding] {
        var out: [TextualInversionEmbedding] = []
        var bundles: [String: [String: TensorView]] = [:]
        var bundleOrder: [String] = []
        let metadata = file.metadata ?? [:]
        for info in file.tensors {
            let key = info.name
            if key.hasPrefix("bundle_emb.") {
                let rest = key.dropFirst("bundle_emb.".count)
                guard let dot = rest.firstIndex(of: ".") else {
                    throw .invalidEmbedding(file: fileName, reason: "bundle key \(key) has no vector name")
                }
                let name = String(rest[..<dot])
                if bundles[name] == nil { bundleOrder.append(name); bundles[name] = [:] }
                bundles[name]![String(rest[rest.index(after: dot)...])] = file.tensor(info)
            } else if key.hasPrefix("<") && key.hasSuffix(">") || metadata[key] == "<embed>" {
                out.append(try TextualInversionEmbedding(tensors: [key: file.tensor(info)], name: key, file: fileName))
            }
        }
        for name in bundleOrder {
            out.append(try TextualInversionEmbedding(tensors: bundles[name] ?? [:], name: name, file: "\(fileName) bundle_emb.\(name)"))
        }
        return out
    }
}
