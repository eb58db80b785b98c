// conv2d cases: the SD1.5 UNet and VAE-decoder 3×3 convolutions (batch 1, float32 activations, bias),
// timed in-process; Scripts/bench/conv2d_torch.py times torch on the same shapes.
//   ops-bench conv-unet320 | conv-unet640 | conv-unet1280 | conv-vae512 | conv-vae128 | conv-unet1280s8 |
//     conv-unet2560s8 | conv-unet2560s16 | conv-xl1280s32 | conv-xl2560s32 | conv-xl640s64 | conv-xl320s128 | conv-all
//     [--algorithm automatic|gemm|winograd] [--weights f32|f16] [--products auto|blas]
//     [--batch N] [--split-below TILES] [--split-kb KB] [--balance on|off] [--unpacked-max COLUMNS] (the planner's
//     choices, to measure alternatives)
import DiffusionCore
import Foundation

/// name → (C_in, C_out, H, W) of a 3×3, stride-1, padding-1 convolution.
let convShapes: [(name: String, cin: Int, cout: Int, h: Int, w: Int)] = [
    ("unet320", 320, 320, 64, 64), ("unet640", 640, 640, 32, 32), ("unet1280", 1280, 1280, 16, 16),
    ("vae512", 512, 512, 128, 128), ("vae128", 128, 128, 512, 512),
    // The UNet's smallest maps (its innermost block at 512×512 output), where the planner picks its schedule.
    ("unet1280s8", 1280, 1280, 8, 8), ("unet2560s8", 2560, 1280, 8, 8), ("unet2560s16", 2560, 1280, 16, 16),
    // SDXL at 1024×1024: its innermost 32×32 block (1280 channels) and its 64×64 and 128×128 levels.
    ("xl1280s32", 1280, 1280, 32, 32), ("xl2560s32", 2560, 1280, 32, 32), ("xl640s64", 640, 640, 64, 64),
    ("xl320s128", 320, 320, 128, 128),
]

let convCases = ["conv-all"] + convShapes.map { "conv-\($0.name)" }

func conv(_ caseName: String) throws {
    let algorithmName = option("--algorithm", default: "automatic")
    let algorithm: Conv2DAlgorithm = switch algorithmName {
    case "gemm": .gemm
    case "winograd": .winograd
    default: .automatic
    }
    let weights = option("--weights", default: "f32")
    if option("--products", default: "auto") == "blas" { ConvPlanner.unpackedProductMaxColumns = 0 }
    if let below = Int(option("--split-below", default: "")) { ConvPlanner.channelSplitBelowTiles = below }
    if let kb = Int(option("--split-kb", default: "")) { ConvPlanner.channelSplitBytes = kb << 10 }
    if option("--balance", default: "on") == "off" { ConvPlanner.balancesTileChunks = false }
    if let n = Int(option("--unpacked-max", default: "")) { ConvPlanner.unpackedProductMaxColumns = n }
    let batch = Int(option("--batch", default: "1")) ?? 1
    for s in convShapes where caseName == "conv-all" || caseName == "conv-\(s.name)" {
        let x = try tensor([batch, s.cin, s.h, s.w], seed: 21)
        let wValues = values(s.cout * s.cin * 9, seed: 22).map { $0 / Float(s.cin * 9).squareRoot() }
        let wShape = [s.cout, s.cin, 3, 3]
        let weight = weights == "f16"
            ? try WeightMatrix(weightFile(wValues, shape: wShape, dtype: .f16).tensor(named: "w"))
            : try WeightMatrix(Tensor(shape: wShape, scalars: wValues))
        let bias = try tensor([s.cout], seed: 23)
        let options = Conv2DOptions(padding: 1, algorithm: algorithm)
        var out = try workspace.tensor(shape: [batch, s.cout, s.h, s.w])
        let flops = 2 * Double(batch * s.cout * s.h * s.w) * Double(s.cin * 9)
        try measure("conv-\(s.name) \(algorithmName.prefix(4)) \(weights)", flops: flops) {
            try Ops.conv2d(x, weight: weight, bias: bias, options: options, into: &out, workspace: workspace)
        }
    }
}
