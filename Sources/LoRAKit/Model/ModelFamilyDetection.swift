/// Which Stable Diffusion family a model file is, from its tensor shapes.
enum ModelFamilyDetection {
    /// The family of a model given its canonical parameter index and the files'
    /// tensor shapes: the cross-attention width (attn2.to_k input: 768 SD1.x,
    /// 1024 SD2.x, 2048 SDXL), else the presence of SDXL's second text encoder.
    static func detect(index: ParameterIndex, shape: (ParameterLocation) -> [Int]?) -> (BaseModel?, String) {
        // Sorted, so the evidence names the same layer on every run.
        let candidates = index.locations.filter { $0.key.component == .unet && $0.key.name.hasSuffix("attn2.to_k.weight") }
            .sorted { $0.key.name < $1.key.name }
        for (key, location) in candidates {
            guard let s = shape(location), s.count >= 2 else { continue }
            switch s[1] {
            case 768: return (.sd1, "cross-attention width 768 (\(key.name))")
            case 1024: return (.sd2, "cross-attention width 1024 (\(key.name))")
            case 2048: return (.sdxl, "cross-attention width 2048 (\(key.name))")
            default: return (nil, "cross-attention width \(s[1]) matches no known family")
            }
        }
        if index.components.contains(.textEncoder2) { return (.sdxl, "has a second text encoder") }
        return (nil, "no cross-attention layer to measure")
    }
}

extension ParameterIndex {
    /// Several files' indexes together, for telling the model family.
    struct Merged {
        var entries: [(ParameterIndex, (ParameterLocation) -> [Int]?)] = []
        mutating func add(_ index: ParameterIndex, shape: @escaping (ParameterLocation) -> [Int]?) { entries.append((index, shape)) }
        func family() -> (BaseModel?, String) {
            var fallback: (BaseModel?, String)?
            for (index, shape) in entries {
                let result = ModelFamilyDetection.detect(index: index, shape: shape)
                if result.0 != nil { return result }
                // Keep the first file's reason (the UNet's, which says what it measured).
                if fallback == nil { fallback = result }
            }
            if entries.contains(where: { $0.0.components.contains(.textEncoder2) }) { return (.sdxl, "has a second text encoder") }
            return fallback ?? (nil, "no model files")
        }
    }
}
