import Foundation
import LoRAKit
import Testing
@testable import DiffusionCore

/// One torch conv2d reference case, as written by `Scripts/fixtures/conv_fixtures.py`: a safetensors file
/// with `input`, `weight`, optional `bias`, the float64 `expected` output, and (in some cases) float16 /
/// bfloat16 weights (`weight_f16`, `weight_bf16`) with their own float64 results.
struct ConvFixture {
    let name: String
    let file: SafetensorsFile

    static let names = [
        "k3s1p1_b2", "k3s1p0_prime", "k3s1p1_wide", "k3s1p1_nobias", "k3s1p1_tiny", "k3s2p1_b2",
        "k3s2_vae_pad", "k1s1p0_b2", "k1s2p0", "k5s1p2", "k3s1p1_b2_channels33",
    ]

    init(_ name: String) throws {
        let url = try #require(Bundle.module.url(forResource: name, withExtension: "safetensors",
                                                 subdirectory: "Fixtures/conv"))
        self.name = name
        file = try SafetensorsFile(contentsOf: url)
    }

    func has(_ key: String) -> Bool { file.contains(key) }

    func tensor(_ key: String) throws -> Tensor {
        let view = try file.tensor(named: key)
        return try Tensor(shape: view.shape, scalars: view.floats())
    }

    func weight(_ key: String = "weight") throws -> WeightMatrix { try WeightMatrix(file.tensor(named: key)) }

    func bias() throws -> Tensor? { has("bias") ? try tensor("bias") : nil }

    /// The float64 reference, unrounded.
    func expected(_ key: String = "expected") throws -> (shape: [Int], values: [Double]) {
        let view = try file.tensor(named: key)
        #expect(view.dtype == .f64)
        return (view.shape, view.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) })
    }

    var options: Conv2DOptions {
        func int(_ key: String) -> Int { Int(file.metadata?[key] ?? "") ?? -1 }
        return Conv2DOptions(strideY: int("stride_y"), strideX: int("stride_x"),
                             padding: Conv2DPadding(top: int("pad_top"), left: int("pad_left"),
                                                    bottom: int("pad_bottom"), right: int("pad_right")))
    }
}

/// max |y − ref| / max |ref|: the error relative to the output's scale (elementwise relative error means
/// nothing where the reference crosses zero). NaN counts as an infinite error.
func relativeMaxError(_ y: Tensor, _ reference: [Double]) -> Double {
    let a = y.scalars
    guard a.count == reference.count else { return .infinity }
    var err = 0.0, scale = 0.0
    for i in a.indices {
        let d = abs(Double(a[i]) - reference[i])
        if d.isNaN { return .infinity }
        err = max(err, d)
        scale = max(scale, abs(reference[i]))
    }
    return scale > 0 ? err / scale : err
}

/// Every instruction-set level the processor has, AVX-512 included (the conv kernels have a path for it).
enum ConvKernelLevels {
    static var all: [KernelLevel] { KernelLevel.allCases.filter { $0.rawValue <= KernelLevel.best.rawValue } }
}
