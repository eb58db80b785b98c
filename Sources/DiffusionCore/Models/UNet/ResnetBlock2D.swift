/// diffusers' `ResnetBlock2D` (the "default" time-embedding mode): GroupNorm → SiLU → conv3×3, plus the
/// projected time embedding per channel, GroupNorm → SiLU → conv3×3, then `(shortcut(x) + h) / scale`.
/// Shapes: `x` NCHW `[B, Cin, H, W]`, `temb` `[B, T]` (nil in the VAE, which has no time embedding).
struct ResnetBlock2D {
    let norm1: GroupNormLayer
    let conv1: ConvLayer
    let timeProjection: LinearLayer?
    let norm2: GroupNormLayer
    let conv2: ConvLayer
    let shortcut: ConvLayer?
    let outputScale: Float

    init(_ w: ComponentWeights, _ prefix: String, in inChannels: Int, out outChannels: Int, temb: Int?,
         groups: Int, eps: Float, outputScale: Float = 1) throws {
        norm1 = try GroupNormLayer(w, "\(prefix).norm1", channels: inChannels, groups: groups, eps: eps)
        conv1 = try ConvLayer(w, "\(prefix).conv1", in: inChannels, out: outChannels, kernel: 3, stride: 1, padding: .init(1))
        timeProjection = try temb.map { try LinearLayer(w, "\(prefix).time_emb_proj", in: $0, out: outChannels) }
        norm2 = try GroupNormLayer(w, "\(prefix).norm2", channels: outChannels, groups: groups, eps: eps)
        conv2 = try ConvLayer(w, "\(prefix).conv2", in: outChannels, out: outChannels, kernel: 3, stride: 1, padding: .init(1))
        shortcut = inChannels == outChannels ? nil
            : try ConvLayer(w, "\(prefix).conv_shortcut", in: inChannels, out: outChannels, kernel: 1, stride: 1, padding: .zero)
        self.outputScale = outputScale
    }

    /// - Parameter activatedTemb: `SiLU(temb)`, computed once per forward by the caller (every block applies
    ///   the same SiLU to the same embedding).
    func callAsFunction(_ x: Tensor, activatedTemb: Tensor?) throws -> Tensor {
        var h = try conv1(try norm1(x, activation: .silu))
        if let timeProjection, let activatedTemb {
            let t = try timeProjection(activatedTemb)
            try ModelOps.addPerChannel(&h, t)
        }
        h = try conv2(try norm2(h, activation: .silu))
        let skip = try shortcut.map { try $0(x) } ?? x
        try ModelOps.addScaled(&h, skip, divideBy: outputScale)
        return h
    }
}
