import Foundation

/// Where each part of a diffusers pipeline folder lives (`model_index.json` at the top), and how its
/// weight files are named: `<stem>.safetensors`, a variant `<stem>.<variant>.safetensors`
/// (`fp16`, …), or shards listed by `<stem>.safetensors.index.json`
/// (variant index: `<stem>.safetensors.index.<variant>.json`, as diffusers and transformers write it,
/// or `<stem>.<variant>.safetensors.index.json`).
enum DiffusersLayout {
    struct Entry: Sendable {
        var part: ModelPart
        var folder: String
        /// Weight file stem, nil for parts without weights.
        var weightStem: String?
        /// The part's configuration file.
        var config: String
    }

    static let entries: [Entry] = [
        Entry(part: .unet, folder: "unet", weightStem: "diffusion_pytorch_model", config: "config.json"),
        Entry(part: .textEncoder, folder: "text_encoder", weightStem: "model", config: "config.json"),
        Entry(part: .textEncoder2, folder: "text_encoder_2", weightStem: "model", config: "config.json"),
        Entry(part: .vae, folder: "vae", weightStem: "diffusion_pytorch_model", config: "config.json"),
        Entry(part: .tokenizer, folder: "tokenizer", weightStem: nil, config: "tokenizer_config.json"),
        Entry(part: .tokenizer2, folder: "tokenizer_2", weightStem: nil, config: "tokenizer_config.json"),
        Entry(part: .scheduler, folder: "scheduler", weightStem: nil, config: "scheduler_config.json"),
    ]

    static let modelIndex = "model_index.json"

    /// PyTorch pickle weights, never loaded: their presence without safetensors is an error.
    static let pickleExtensions = [".bin", ".ckpt", ".pt", ".pth"]

    /// The variant rule for one component: the requested variant when the component has it; else the
    /// plain weights when present, else `fp16`, else the first variant by name. (That a requested variant
    /// exists somewhere in the model is checked by the opener, as diffusers does.)
    static func choose(_ sets: [ModelBundle.WeightSet], requested: String?) -> ModelBundle.WeightSet? {
        if let requested, let set = sets.first(where: { $0.variant == requested }) { return set }
        if let plain = sets.first(where: { $0.variant == nil }) { return plain }
        if let half = sets.first(where: { $0.variant == "fp16" }) { return half }
        return sets.sorted { ($0.variant ?? "") < ($1.variant ?? "") }.first
    }

    /// Every weight set in a component folder (plain, each variant; single files or shards).
    static func weightSets(in folder: URL, stem: String) throws(ModelFileError) -> [ModelBundle.WeightSet] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() } catch {
            throw .notAModel(path: folder.path, reason: "cannot list the folder: \(error.localizedDescription)")
        }
        var sets: [ModelBundle.WeightSet] = []
        var sharded = Set<String?>()
        // Shard indexes first: a variant that has one is the index's shards, not a single file.
        for name in names {
            guard let variant = shardIndexVariant(name, stem: stem) else { continue }
            let index = folder.appendingPathComponent(name)
            let files = try shardFiles(index: index, folder: folder)
            sets.append(.init(variant: variant.value, files: files, shardIndex: index))
            sharded.insert(variant.value)
        }
        for name in names {
            guard let variant = singleFileVariant(name, stem: stem), !sharded.contains(variant.value) else { continue }
            sets.append(.init(variant: variant.value, files: [folder.appendingPathComponent(name)], shardIndex: nil))
        }
        if sets.isEmpty, let pickle = names.first(where: { n in (n.hasPrefix(stem + ".") || n.hasPrefix("pytorch_" + stem + ".")) && pickleExtensions.contains { n.hasSuffix($0) } }) {
            throw .pickleWeights(path: folder.appendingPathComponent(pickle).path)
        }
        return sets.sorted { ($0.variant ?? "") < ($1.variant ?? "") }
    }

    /// A one-value box so "no variant" (nil) and "not a match" differ.
    struct Variant { var value: String? }

    /// `<stem>.safetensors` → plain, `<stem>.<v>.safetensors` → v.
    static func singleFileVariant(_ name: String, stem: String) -> Variant? {
        guard name.hasPrefix(stem + "."), name.hasSuffix(".safetensors") else { return nil }
        let middle = name.dropFirst(stem.count + 1).dropLast(".safetensors".count)
        if middle.isEmpty { return Variant(value: nil) }   // "<stem>.safetensors"
        guard !middle.contains("."), !middle.contains("-of-") else { return nil }
        return Variant(value: String(middle))
    }

    /// `<stem>.safetensors.index.json` → plain; `<stem>.safetensors.index.<v>.json` or
    /// `<stem>.<v>.safetensors.index.json` → v.
    static func shardIndexVariant(_ name: String, stem: String) -> Variant? {
        guard name.hasPrefix(stem + "."), name.hasSuffix(".json") else { return nil }
        let middle = String(name.dropFirst(stem.count + 1).dropLast(".json".count))
        if middle == "safetensors.index" { return Variant(value: nil) }
        if middle.hasPrefix("safetensors.index.") {
            let v = middle.dropFirst("safetensors.index.".count)
            return v.isEmpty || v.contains(".") ? nil : Variant(value: String(v))
        }
        if middle.hasSuffix(".safetensors.index") {
            let v = middle.dropLast(".safetensors.index".count)
            return v.isEmpty || v.contains(".") ? nil : Variant(value: String(v))
        }
        return nil
    }

    /// The shard files a `*.safetensors.index.json` names (its `weight_map` values), in order.
    static func shardFiles(index: URL, folder: URL) throws(ModelFileError) -> [URL] {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: Data(contentsOf: index)) } catch {
            throw .invalidShardIndex(path: index.path, reason: "not readable JSON (\(error.localizedDescription))")
        }
        guard let map = (object as? [String: Any])?["weight_map"] as? [String: Any] else {
            throw .invalidShardIndex(path: index.path, reason: "no weight_map")
        }
        var files: [String] = []
        for value in map.values {
            guard let file = value as? String, !file.isEmpty, !file.contains("/"), file != "..", file.hasSuffix(".safetensors") else {
                throw .invalidShardIndex(path: index.path, reason: "weight_map names \(value), not a .safetensors file in the folder")
            }
            if !files.contains(file) { files.append(file) }
        }
        guard !files.isEmpty else { throw .invalidShardIndex(path: index.path, reason: "weight_map is empty") }
        let urls = files.sorted().map { folder.appendingPathComponent($0) }
        for url in urls where !FileManager.default.fileExists(atPath: url.path) {
            throw .invalidShardIndex(path: index.path, reason: "shard \(url.lastPathComponent) is missing")
        }
        return urls
    }
}
