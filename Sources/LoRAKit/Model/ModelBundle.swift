import Foundation

/// A Stable Diffusion model opened from disk: a diffusers pipeline folder (`model_index.json`), one
/// diffusers component file, or a single-file checkpoint in original LDM/SGM names — with where each
/// part (UNet, text encoders, VAE, tokenizers, scheduler) lives.
///
/// Opening maps the weight files and reads their headers only. Which weight files of a component
/// are read follows one rule (see ``Options/variant``): the plain `*.safetensors` when present, else
/// the `fp16` variant, else the only variant there is. Sharded weights (`*.safetensors.index.json`)
/// are read through their index.
///
/// ```swift
/// let model = try ModelBundle.open(URL(fileURLWithPath: "models/sd15"))
/// for part in model.components { print(part.part, part.weights?.files.map(\.lastPathComponent) ?? []) }
/// ```
public struct ModelBundle: Sendable {
    /// How the model is stored.
    public enum Layout: Sendable, Equatable {
        /// A diffusers pipeline folder.
        case diffusersFolder
        /// One component's weights (diffusers names, or an LDM-named standalone VAE).
        case componentFile
        /// A single-file checkpoint in LDM/SGM names.
        case checkpoint
    }

    /// What to open.
    public struct Options: Sendable, Equatable {
        /// The weight variant to read (`"fp16"` reads `*.fp16.safetensors`). A component without it reads
        /// its plain weights, as diffusers does; no component having it is an error. nil applies the rule:
        /// plain weights, else `fp16`, else the first variant by name.
        public var variant: String?
        /// For a single component file, which part it is (told from its tensor names when nil).
        public var component: ModelPart?

        public init(variant: String? = nil, component: ModelPart? = nil) {
            self.variant = variant
            self.component = component
        }
    }

    /// The weight files of one component in one variant.
    public struct WeightSet: Sendable, Equatable {
        /// `"fp16"` for `*.fp16.safetensors`; nil for the plain files.
        public var variant: String?
        /// One file, or the shards in name order.
        public var files: [URL]
        /// The `*.safetensors.index.json` listing the shards, when sharded.
        public var shardIndex: URL?
    }

    /// One part of the model and where it lives.
    public struct Component: Sendable {
        public var part: ModelPart
        /// Its folder in a diffusers pipeline folder; nil inside a single file.
        public var folder: URL?
        /// Its configuration file (`config.json`, `scheduler_config.json`, `tokenizer_config.json`), when present.
        public var configFile: URL?
        /// The weights the variant rule chose (nil for parts without weights).
        public var weights: WeightSet?
        /// Every weight set present: the plain files and each variant (a merge rewrites them all).
        public var allWeights: [WeightSet]
        /// In a single-file checkpoint, the tensor-name prefixes of this part (e.g. `first_stage_model.`).
        public var checkpointPrefixes: [String]
    }

    /// The path opened.
    public let url: URL
    public let layout: Layout
    /// The parts found, in ``ModelPart`` order.
    public let components: [Component]
    /// The weight files, opened and indexed (every variant).
    let files: [WeightFile]

    /// The component for `part`, when present.
    public func component(_ part: ModelPart) -> Component? { components.first { $0.part == part } }

    /// The parts present.
    public var parts: [ModelPart] { components.map(\.part) }

    /// Opens the model at `url`.
    /// - Throws: ``ModelFileError``; nothing is modified.
    public static func open(_ url: URL, options: Options = Options()) throws(ModelFileError) -> ModelBundle {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else { throw .notFound(path: url.path) }
        return isDirectory.boolValue ? try openFolder(url, options: options) : try openFile(url, options: options)
    }

    private static func openFolder(_ folder: URL, options: Options) throws(ModelFileError) -> ModelBundle {
        let fm = FileManager.default
        guard fm.fileExists(atPath: folder.appendingPathComponent(DiffusersLayout.modelIndex).path) else {
            throw .notAModel(path: folder.path, reason: "a folder without model_index.json is not a diffusers pipeline")
        }
        var components: [Component] = []
        var files: [WeightFile] = []
        for entry in DiffusersLayout.entries {
            let dir = folder.appendingPathComponent(entry.folder)
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: dir.path, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
            let config = dir.appendingPathComponent(entry.config)
            var component = Component(part: entry.part, folder: dir,
                                      configFile: fm.fileExists(atPath: config.path) ? config : nil,
                                      weights: nil, allWeights: [], checkpointPrefixes: [])
            if let stem = entry.weightStem {
                component.allWeights = try DiffusersLayout.weightSets(in: dir, stem: stem)
                component.weights = DiffusersLayout.choose(component.allWeights, requested: options.variant)
                for set in component.allWeights {
                    for file in set.files {
                        let st = try openSafetensors(file)
                        let relative = entry.folder + "/" + file.lastPathComponent
                        files.append(WeightFile(url: file, relativePath: relative, variant: set.variant, safetensors: st,
                                                index: .diffusersComponent(st, component: entry.part)))
                    }
                }
                // A weight folder with no weights is not a part of this model.
                if component.weights == nil { continue }
            }
            components.append(component)
        }
        guard components.contains(where: { $0.weights != nil }) else {
            throw .notAModel(path: folder.path, reason: "no unet/, text_encoder/, text_encoder_2/ or vae/ safetensors weights")
        }
        if let variant = options.variant, !components.contains(where: { $0.weights?.variant == variant }) {
            let available = Set(components.flatMap(\.allWeights).compactMap(\.variant)).sorted()
            throw .variantNotFound(path: folder.path, variant: variant, available: available)
        }
        return ModelBundle(url: folder, layout: .diffusersFolder, components: components, files: files)
    }

    private static func openFile(_ url: URL, options: Options) throws(ModelFileError) -> ModelBundle {
        if DiffusersLayout.pickleExtensions.contains("." + url.pathExtension.lowercased()) { throw .pickleWeights(path: url.path) }
        let st = try openSafetensors(url)
        let set = WeightSet(variant: nil, files: [url], shardIndex: nil)
        let kind = ModelKind.sniff(st.names)
        let name = url.lastPathComponent
        switch kind {
        case .checkpoint(let parts):
            let index = ParameterIndex.checkpoint(st)
            let components = parts.sorted().map { part in
                Component(part: part, folder: nil, configFile: nil, weights: set, allWeights: [set],
                          checkpointPrefixes: CheckpointLayout.sections.filter { $0.part == part }.map(\.prefix)
                              .filter { p in st.names.contains { $0.hasPrefix(p) } })
            }
            return ModelBundle(url: url, layout: .checkpoint, components: components,
                               files: [WeightFile(url: url, relativePath: name, variant: nil, safetensors: st, index: index)])
        case .ldmVAE where options.component == nil || options.component == .vae:
            return ModelBundle(url: url, layout: .componentFile,
                               components: [Component(part: .vae, folder: nil, configFile: nil, weights: set, allWeights: [set], checkpointPrefixes: [])],
                               files: [WeightFile(url: url, relativePath: name, variant: nil, safetensors: st, index: .ldmVAE(st))])
        case .controlNet:
            throw .notAModel(path: url.path, reason: "a ControlNet")
        default:
            guard let part = options.component ?? kind?.parts.first, part.holdsWeights else {
                throw .notAModel(path: url.path, reason: "neither a diffusers UNet, text encoder or VAE nor an LDM/SGM checkpoint")
            }
            return ModelBundle(url: url, layout: .componentFile,
                               components: [Component(part: part, folder: nil, configFile: nil, weights: set, allWeights: [set], checkpointPrefixes: [])],
                               files: [WeightFile(url: url, relativePath: name, variant: nil, safetensors: st,
                                                  index: .diffusersComponent(st, component: part))])
        }
    }

    static func openSafetensors(_ url: URL) throws(ModelFileError) -> SafetensorsFile {
        do { return try SafetensorsFile(contentsOf: url) } catch { throw .unreadable(path: url.path, error: error) }
    }
}

extension ModelBundle {
    /// Opens one diffusers component folder on its own (`unet/`, `text_encoder/`, `vae/`, as
    /// `from_pretrained(…, subfolder=)` reads it) with the same variant and shard rules as a pipeline folder.
    /// - Throws: ``ModelFileError/notAModel(path:reason:)`` when the folder has no weights,
    ///   ``ModelFileError/pickleWeights(path:)`` when it has only pickles, the shard and variant errors.
    package static func openComponent(folder: URL, part: ModelPart, variant: String? = nil)
        throws(ModelFileError) -> (weights: WeightSet, tensors: ComponentTensors) {
        guard let stem = DiffusersLayout.entries.first(where: { $0.part == part })?.weightStem else {
            throw .notAModel(path: folder.path, reason: "\(part.rawValue) holds no weights")
        }
        let sets = try DiffusersLayout.weightSets(in: folder, stem: stem)
        guard let chosen = DiffusersLayout.choose(sets, requested: variant) else {
            throw .notAModel(path: folder.path, reason: "no \(stem).safetensors")
        }
        if let variant, chosen.variant != variant {
            throw .variantNotFound(path: folder.path, variant: variant, available: sets.compactMap(\.variant))
        }
        var files: [WeightFile] = []
        for file in chosen.files {
            let st = try openSafetensors(file)
            let index: ParameterIndex = part == .vae && ModelKind.sniff(st.names) == .ldmVAE
                ? .ldmVAE(st) : .diffusersComponent(st, component: part)
            files.append(WeightFile(url: file, relativePath: file.lastPathComponent, variant: chosen.variant, safetensors: st, index: index))
        }
        return (chosen, try ComponentTensors(part: part, files: files))
    }
}

/// One opened weight file of a model and the canonical index of its tensors.
struct WeightFile: Sendable {
    var url: URL
    /// The path inside the model folder (the file name for a single file).
    var relativePath: String
    var variant: String?
    var safetensors: SafetensorsFile
    var index: ParameterIndex
}

extension ModelBundle {
    /// The weight files of the chosen variant (``Component/weights``) of `parts` (every weight part when nil).
    func chosenFiles(parts: Set<ModelPart>? = nil) -> [WeightFile] {
        let wanted = Set(components.filter { parts?.contains($0.part) ?? true }.compactMap(\.weights).flatMap(\.files))
        return files.filter { wanted.contains($0.url) }
    }

    /// Every weight file (every variant) holding any of `parts`.
    func allFiles(parts: Set<ModelPart>) -> [WeightFile] {
        let wanted = Set(components.filter { parts.contains($0.part) }.flatMap(\.allWeights).flatMap(\.files))
        return files.filter { wanted.contains($0.url) }
    }

    /// Whether a single-file checkpoint carries SGM's `v_pred` marker tensor (a v-prediction model).
    package var hasVPredictionMarker: Bool {
        layout == .checkpoint && files.contains { $0.safetensors.contains("v_pred") }
    }

    /// The model family, from the UNet's cross-attention width (or SDXL's second text encoder).
    package var family: (BaseModel?, String) {
        var union = ParameterIndex.Merged()
        for file in chosenFiles() { union.add(file.index, shape: { file.safetensors.info(named: $0.tensorName)?.shape }) }
        return union.family()
    }
}
