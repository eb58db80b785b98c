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
