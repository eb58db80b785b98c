import Foundation
import LoRAKit

/// diffusers' `AutoencoderTinyBlock`: conv3×3 → ReLU → conv3×3 → ReLU → conv3×3, plus the input (through a
/// bias-free 1×1 convolution when the widths differ), then ReLU. Shape: NCHW.
struct TinyBlock {
    let convs: [ConvLayer]
    let skip: ConvLayer?

    init(_ w: ComponentWeights, _ prefix: String, in inChannels: Int, out outChannels: Int) throws {
        convs = try [0, 2, 4].map {
            try ConvLayer(w, "\(prefix).conv.\($0)", in: $0 == 0 ? inChannels : outChannels, out: outChannels,
                          kernel: 3, stride: 1, padding: .init(1))
        }
        skip = inChannels == outChannels ? nil
            : try ConvLayer(w, "\(prefix).skip", in: inChannels, out: outChannels, kernel: 1, stride: 1, padding: .zero, bias: false)
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        var h = try convs[0](x, activation: .relu)
        h = try convs[1](h, activation: .relu)
        h = try convs[2](h)
        try ModelOps.addScaled(&h, try skip.map { try $0(x) } ?? x, divideBy: 1)
        return try Ops.activation(h, .relu)
    }
}

/// One step of TAESD's sequential encoder or decoder (diffusers numbers parameter-free layers too).
enum TinyLayer {
    case conv(ConvLayer, relu: Bool)
    case block(TinyBlock)
    case upsample

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        switch self {
        case let .conv(conv, relu): return try conv(x, activation: relu ? .relu : .none)
        case let .block(block): return try block(x)
        case .upsample: return try ModelOps.upsampleNearest(x, to: nil)
        }
    }
}

/// A diffusers `AutoencoderTiny` (TAESD, TAESDXL): a small convolutional VAE that decodes latents to images
/// about 10–20× faster than `AutoencoderKL`, used for previews and fast decoding.
public final class AutoencoderTinyModel: ComponentModel, @unchecked Sendable {
    public let configuration: AutoencoderTinyConfiguration
    let encoderLayers: [TinyLayer]
    let decoderLayers: [TinyLayer]

    init(configuration c: AutoencoderTinyConfiguration, weights w: ComponentWeights) throws {
        configuration = c
        var encoder: [TinyLayer] = []
        for (i, blocks) in c.numEncoderBlocks.enumerated() {
            let channels = c.encoderBlockOutChannels[i]
            let conv = i == 0
                ? try ConvLayer(w, "encoder.layers.\(encoder.count)", in: c.inChannels, out: channels, kernel: 3, stride: 1, padding: .init(1))
                : try ConvLayer(w, "encoder.layers.\(encoder.count)", in: channels, out: channels, kernel: 3, stride: 2,
                                padding: .init(1), bias: false)
            encoder.append(.conv(conv, relu: false))
            for _ in 0..<blocks {
                encoder.append(.block(try TinyBlock(w, "encoder.layers.\(encoder.count)", in: channels, out: channels)))
            }
        }
        let lastEncoder = c.encoderBlockOutChannels[c.encoderBlockOutChannels.count - 1]
        encoder.append(.conv(try ConvLayer(w, "encoder.layers.\(encoder.count)", in: lastEncoder, out: c.latentChannels,
                                           kernel: 3, stride: 1, padding: .init(1)), relu: false))
        encoderLayers = encoder

        var decoder: [TinyLayer] = []
        // conv + ReLU count as two layers in diffusers' numbering.
        decoder.append(.conv(try ConvLayer(w, "decoder.layers.0", in: c.latentChannels, out: c.decoderBlockOutChannels[0],
                                           kernel: 3, stride: 1, padding: .init(1)), relu: true))
        var index = 2
        for (i, blocks) in c.numDecoderBlocks.enumerated() {
            let channels = c.decoderBlockOutChannels[i]
            let isFinal = i == c.numDecoderBlocks.count - 1
            for _ in 0..<blocks {
                decoder.append(.block(try TinyBlock(w, "decoder.layers.\(index)", in: channels, out: channels)))
                index += 1
            }
            if !isFinal {
                decoder.append(.upsample)
                index += 1
            }
            decoder.append(.conv(try ConvLayer(w, "decoder.layers.\(index)", in: channels, out: isFinal ? c.outChannels : channels,
                                               kernel: 3, stride: 1, padding: .init(1), bias: isFinal), relu: false))
            index += 1
        }
        decoderLayers = decoder
        try w.requireAllTaken()
    }

    /// Loads a TAESD from its `config.json` and weight files.
    public convenience init(configurationJSON: Data, weightFiles: [SafetensorsFile], description: String,
                            loading: WeightLoading = .keepHalfPrecision) throws(ModelError) {
        try self.init(parsing: configurationJSON, weightFiles: weightFiles, description: description, loading: loading)
    }

    /// Decodes latents `[B, latent, h, w]` (TAESD reads the diffusion latents as they are: its scaling factor
    /// is 1) to images `[B, out, 8h, 8w]` in [-1, 1] (diffusers' `AutoencoderTiny.decode`).
    public func decode(_ z: Tensor) throws(ModelError) -> Tensor {
        guard z.rank == 4, z.shape[1] == configuration.latentChannels, z.count > 0 else {
            throw .invalidInput("latents must be [B, \(configuration.latentChannels), h, w], got \(z.shape)")
        }
        return try ModelError.wrapping {
            var h = try ModelOps.map(z) { 3 * Foundation.tanh($0 / 3) }
            for layer in decoderLayers { h = try layer(h) }
            return try ModelOps.affine(h, scale: 2, shift: -1)
        }
    }

    /// Encodes images `[B, in, H, W]` in [-1, 1] to latents `[B, latent, H/8, W/8]`.
    public func encode(_ x: Tensor) throws(ModelError) -> Tensor {
        guard x.rank == 4, x.shape[1] == configuration.inChannels, x.count > 0 else {
            throw .invalidInput("image must be [B, \(configuration.inChannels), H, W], got \(x.shape)")
        }
        return try ModelError.wrapping {
            var h = try ModelOps.affine(x, scale: 0.5, shift: 0.5)
            for layer in encoderLayers { h = try layer(h) }
            return h
        }
    }
}
