/// A parameter of a model part in canonical (diffusers / transformers) naming.
package struct ParameterKey: Hashable, Sendable, CustomStringConvertible {
    package var component: ModelPart
    /// e.g. `down_blocks.0.attentions.0.proj_in.weight` or `text_model.encoder.layers.0.mlp.fc1.bias`.
    package var name: String

    package init(component: ModelPart, name: String) {
        self.component = component
        self.name = name
    }

    package init(component: ModelComponent, name: String) {
        self.init(component: ModelPart(component), name: name)
    }

    package var description: String { "\(component.rawValue).\(name)" }
}

/// Where a canonical parameter sits in a concrete file: the tensor, for OpenCLIP's fused
/// q/k/v which third of its rows, and how the stored tensor differs from the canonical one.
package struct ParameterLocation: Hashable, Sendable {
    /// How a stored tensor relates to the canonical parameter.
    package enum Storage: Hashable, Sendable {
        /// Same shape, same element order.
        case asIs
        /// A 2-D matrix stored transposed (OpenCLIP's `text_projection`, `[in, out]` for a Linear's `[out, in]`).
        case transposed
        /// Stored with trailing 1-sized dimensions (the LDM VAE's 1×1-conv attention weights for Linear ones):
        /// the same bytes, a shorter shape.
        case squeezed
    }

    package var tensorName: String
    package var fusedThird: Int?
    package var storage: Storage

    package init(tensorName: String, fusedThird: Int? = nil, storage: Storage = .asIs) {
        self.tensorName = tensorName
        self.fusedThird = fusedThird
        self.storage = storage
    }

    /// The canonical shape of the parameter held at this location in a tensor of `stored` shape.
    package func canonicalShape(stored: [Int]) -> [Int] {
        var shape = stored
        if fusedThird != nil, let rows = shape.first { shape[0] = rows / 3 }
        switch storage {
        case .asIs: return shape
        case .transposed: return shape.count == 2 ? [shape[1], shape[0]] : shape
        case .squeezed:
            while shape.count > 2, shape.last == 1 { shape.removeLast() }
            return shape
        }
    }
}

/// The canonical names of every tensor of one file, so merge, extraction and loaders find parameters
/// whatever the file's naming.
package struct ParameterIndex: Sendable {
    package private(set) var locations: [ParameterKey: ParameterLocation] = [:]
    /// Canonical names seen twice (two spellings of one parameter in one file).
    package private(set) var duplicates: [ParameterKey] = []

    package init() {}

    package func location(of key: ParameterKey) -> ParameterLocation? { locations[key] }

    package var components: Set<ModelPart> { Set(locations.keys.map(\.component)) }

    /// Adds a location found elsewhere (merging the indexes of shards).
    mutating func insert(_ key: ParameterKey, _ location: ParameterLocation) { add(key, location) }

    private mutating func add(_ key: ParameterKey, _ location: ParameterLocation) {
        if locations.updateValue(location, forKey: key) != nil { duplicates.append(key) }
    }

    /// Index of a diffusers component file (`unet/…safetensors`, `text_encoder/model.safetensors`, `vae/…`).
    /// Text-encoder names get the `text_model.` level when they lack it (transformers 5 files).
    package static func diffusersComponent(_ file: SafetensorsFile, component: ModelPart) -> ParameterIndex {
        var index = ParameterIndex()
        let isText = component == .textEncoder || component == .textEncoder2
        for info in file.tensors {
            let name = isText ? TextEncoderCheckpointNames.withTextModelLevel(info.name) : info.name
            index.add(ParameterKey(component: component, name: name), ParameterLocation(tensorName: info.name))
        }
        return index
    }

    /// Index of a standalone VAE file in LDM names (no `first_stage_model.` prefix).
    package static func ldmVAE(_ file: SafetensorsFile) -> ParameterIndex {
        var index = ParameterIndex()
        let levels = VAECheckpointNames.levels(originalNames: file.names, prefix: "")
        for info in file.tensors { index.addVAE(info, inner: info.name, levels: levels) }
        return index
    }

    /// Index of a single-file checkpoint; names outside the known sections (EMA copies, …) are not indexed.
    package static func checkpoint(_ file: SafetensorsFile) -> ParameterIndex {
        var index = ParameterIndex()
        let vaeLevels = VAECheckpointNames.levels(originalNames: file.names, prefix: "first_stage_model.")
        for info in file.tensors {
            guard let section = CheckpointLayout.section(of: info.name) else { continue }
            let inner = String(info.name.dropFirst(section.prefix.count))
            switch section.encoding {
            case .unet:
                if let d = UNetCheckpointNames.diffusersName(original: inner) {
                    index.add(ParameterKey(component: ModelPart.unet, name: d), ParameterLocation(tensorName: info.name))
                }
            case .clip:
                let name = TextEncoderCheckpointNames.withTextModelLevel(inner)
                index.add(ParameterKey(component: section.part, name: name), ParameterLocation(tensorName: info.name))
            case .openCLIP:
                for loc in TextEncoderCheckpointNames.transformersLocations(openCLIP: inner) {
                    index.add(ParameterKey(component: section.part, name: loc.name),
                              ParameterLocation(tensorName: info.name, fusedThird: loc.fusedThird,
                                                storage: loc.transposed ? .transposed : .asIs))
                }
            case .vae:
                index.addVAE(info, inner: inner, levels: vaeLevels)
            }
        }
        return index
    }

    private mutating func addVAE(_ info: TensorInfo, inner: String, levels: Int) {
        guard let d = VAECheckpointNames.diffusersName(original: inner, levels: levels) else { return }
        let squeezed = VAECheckpointNames.isAttentionMatrix(diffusers: d) && info.shape.count > 2
        add(ParameterKey(component: .vae, name: d), ParameterLocation(tensorName: info.name, storage: squeezed ? .squeezed : .asIs))
    }

    /// The part of this index that belongs to `component`.
    package func restricted(to component: ModelPart) -> ParameterIndex {
        var index = ParameterIndex()
        index.locations = locations.filter { $0.key.component == component }
        index.duplicates = duplicates.filter { $0.component == component }
        return index
    }
}
