/// Where each model component lives in a single-file checkpoint (LDM/SGM names)
/// and how its parameter names are spelled there.
enum CheckpointLayout {
    enum Encoding { case unet, clip, openCLIP }

    struct Section {
        var prefix: String
        var component: ModelComponent
        var encoding: Encoding
    }

    /// Longest prefixes first is not needed: none is a prefix of another.
    static let sections: [Section] = [
        Section(prefix: "model.diffusion_model.", component: .unet, encoding: .unet),
        Section(prefix: "cond_stage_model.transformer.", component: .textEncoder, encoding: .clip),        // SD1.x
        Section(prefix: "cond_stage_model.model.", component: .textEncoder, encoding: .openCLIP),          // SD2.x
        Section(prefix: "conditioner.embedders.0.transformer.", component: .textEncoder, encoding: .clip), // SDXL TE1
        Section(prefix: "conditioner.embedders.1.model.", component: .textEncoder2, encoding: .openCLIP),  // SDXL TE2
    ]

    /// Whether a tensor name belongs to a single-file checkpoint layout.
    static func isCheckpointName(_ name: String) -> Bool {
        sections.contains { name.hasPrefix($0.prefix) } || name.hasPrefix("first_stage_model.")
    }
}

/// A parameter of a component in canonical (diffusers / transformers) naming.
struct ParameterKey: Hashable, Sendable, CustomStringConvertible {
    var component: ModelComponent
    /// e.g. `down_blocks.0.attentions.0.proj_in.weight` or `text_model.encoder.layers.0.mlp.fc1.bias`.
    var name: String

    var description: String { "\(component.rawValue).\(name)" }
}

/// Where a canonical parameter sits in a concrete file: the tensor and, for
/// OpenCLIP's fused q/k/v, which third of its rows.
struct ParameterLocation: Hashable, Sendable {
    var tensorName: String
    var fusedThird: Int?
}

/// The canonical names of every tensor of one file, for the merge to find targets.
struct ParameterIndex: Sendable {
    private(set) var locations: [ParameterKey: ParameterLocation] = [:]

    func location(of key: ParameterKey) -> ParameterLocation? { locations[key] }

    var components: Set<ModelComponent> { Set(locations.keys.map(\.component)) }

    /// Index of a diffusers component file (`unet/…safetensors`, `text_encoder/model.safetensors`).
    static func diffusersComponent(_ file: SafetensorsFile, component: ModelComponent) -> ParameterIndex {
        var index = ParameterIndex()
        for info in file.tensors {
            let name = component == .unet ? info.name : TextEncoderCheckpointNames.withTextModelLevel(info.name)
            index.locations[ParameterKey(component: component, name: name)] = ParameterLocation(tensorName: info.name, fusedThird: nil)
        }
        return index
    }

    /// Index of a single-file checkpoint; names outside the known sections (VAE, EMA, …) are not indexed.
    static func checkpoint(_ file: SafetensorsFile) -> ParameterIndex {
        var index = ParameterIndex()
        for info in file.tensors {
            guard let section = CheckpointLayout.sections.first(where: { info.name.hasPrefix($0.prefix) }) else { continue }
            let inner = String(info.name.dropFirst(section.prefix.count))
            switch section.encoding {
            case .unet:
                if let d = UNetCheckpointNames.diffusersName(original: inner) {
                    index.locations[ParameterKey(component: .unet, name: d)] = ParameterLocation(tensorName: info.name, fusedThird: nil)
                }
            case .clip:
                let name = TextEncoderCheckpointNames.withTextModelLevel(inner)
                index.locations[ParameterKey(component: section.component, name: name)] = ParameterLocation(tensorName: info.name, fusedThird: nil)
            case .openCLIP:
                for loc in TextEncoderCheckpointNames.transformersLocations(openCLIP: inner) {
                    index.locations[ParameterKey(component: section.component, name: loc.name)] =
                        ParameterLocation(tensorName: info.name, fusedThird: loc.fusedThird)
                }
            }
        }
        return index
    }
}
