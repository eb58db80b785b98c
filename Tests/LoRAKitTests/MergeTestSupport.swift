import Foundation
import Testing
@testable import LoRAKit

/// One row of Fixtures/merge/cases.json (written by Scripts/fixtures/merge_fixtures.py).
struct MergeCase: Decodable, CustomTestStringConvertible, Sendable {
    struct LoRA: Decodable, Sendable {
        var file: String
        var strength: Float
        var unet_strength: Float?
        var te_strength: Float?
    }
    var name: String
    /// The family: sd1, sd2 or sdxl.
    var model: String
    /// The diffusers folder to merge into (e.g. sd1_fp16).
    var folder: String
    var loras: [LoRA]
    var expected: String
    var notes: String?

    var testDescription: String { name }

    /// How many cases `merge_fixtures.py` writes.
    static let expectedCount = 10

    /// Every case of `cases.json`. A missing, malformed or short fixture throws (the parameterised tests
    /// then fail) instead of turning into zero cases, which would report the tests as skipped.
    static func all() throws -> [MergeCase] {
        let url = MergeFixtures.url("cases.json")
        let cases = try JSONDecoder().decode([MergeCase].self, from: Data(contentsOf: url))
        guard cases.count == expectedCount else {
            throw FixtureError("Fixtures/merge/cases.json holds \(cases.count) cases, expected \(expectedCount)")
        }
        return cases
    }

    func sources() throws -> [MergeSource] {
        try loras.map { l in
            let lora = try LoRAFile(contentsOf: MergeFixtures.url(l.file))
            return MergeSource(lora: lora, strength: l.strength, unetStrength: l.unet_strength, textEncoderStrength: l.te_strength)
        }
    }
}

/// A fixture that is missing or does not hold what its generator writes.
struct FixtureError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

enum MergeFixtures {
    static var root: URL { Bundle.module.url(forResource: "merge", withExtension: nil, subdirectory: "Fixtures")! }
    static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    /// Expected tensors keyed `component/name`.
    static func expected(_ relative: String) throws -> SafetensorsFile { try SafetensorsFile(contentsOf: url(relative)) }

    /// Max |a − b| and where, or nil when shapes differ.
    static func maxDifference(_ a: [Float], _ b: [Float]) -> (Float, Int)? {
        guard a.count == b.count else { return nil }
        var worst: (Float, Int) = (0, -1)
        for i in a.indices {
            let d = abs(a[i] - b[i])
            if d > worst.0 || d.isNaN { worst = (d, i) }
        }
        return worst
    }
}

/// Builds the single-file (LDM/SGM) checkpoint of a diffusers fixture folder with
/// the library's name tables, as a user's original-format file would be laid out.
enum CheckpointBuilder {
    struct Layout {
        var unetPrefix = "model.diffusion_model."
        var encoders: [(component: ModelComponent, folder: String, prefix: String, openCLIP: Bool)]
    }

    static func layout(for model: String) -> Layout {
        switch model {
        case "sd2": Layout(encoders: [(.textEncoder, "text_encoder", "cond_stage_model.model.", true)])
        case "sdxl": Layout(encoders: [(.textEncoder, "text_encoder", "conditioner.embedders.0.transformer.", false),
                                       (.textEncoder2, "text_encoder_2", "conditioner.embedders.1.model.", true)])
        default: Layout(encoders: [(.textEncoder, "text_encoder", "cond_stage_model.transformer.", false)])
        }
    }

    static func build(model: String, folder: URL, to output: URL) throws {
        let layout = layout(for: model)
        var writer = SafetensorsWriter(metadata: ["format": "pt"])
        let unet = try SafetensorsFile(contentsOf: folder.appendingPathComponent("unet/diffusion_pytorch_model.safetensors"))
        let upWithAttention = Set(unet.names.compactMap { name -> Int? in
            let p = name.split(separator: ".")
            return p.count > 2 && p[0] == "up_blocks" && p[2] == "attentions" ? Int(p[1]) : nil
        })
        for info in unet.tensors {
            let original = try #require(UNetCheckpointNames.originalName(diffusers: info.name, upBlocksWithAttention: upWithAttention))
            writer.add(unet.tensor(info), as: layout.unetPrefix + original)
        }
        for encoder in layout.encoders {
            let te = try SafetensorsFile(contentsOf: folder.appendingPathComponent("\(encoder.folder)/model.safetensors"))
            var fused: [String: [Int: TensorView]] = [:]
            for info in te.tensors {
                let name = TextEncoderCheckpointNames.withTextModelLevel(info.name)
                if !encoder.openCLIP {
                    writer.add(te.tensor(info), as: encoder.prefix + name)
                } else if name.hasPrefix("text_projection") {
                    let v = te.tensor(info)
                    let (rows, cols) = (info.shape[0], info.shape[1])
                    let w = v.floats()
                    var t = [Float](repeating: 0, count: w.count)
                    for r in 0..<rows { for c in 0..<cols { t[c * rows + r] = w[r * cols + c] } }
                    writer.add(name: encoder.prefix + "text_projection", shape: [cols, rows], floats: t, as: info.dtype)
                } else {
                    let mapped = try #require(TextEncoderCheckpointNames.openCLIPName(transformers: name), "no OpenCLIP name for \(name)")
                    if let third = mapped.fusedThird {
                        fused[mapped.name, default: [:]][third] = te.tensor(info)
                    } else {
                        writer.add(te.tensor(info), as: encoder.prefix + mapped.name)
                    }
                }
            }
            for (name, parts) in fused {
                let q = try #require(parts[0]), k = try #require(parts[1]), v = try #require(parts[2])
                writer.add(name: encoder.prefix + name, shape: [q.shape[0] * 3] + q.shape.dropFirst(),
                           floats: q.floats() + k.floats() + v.floats(), as: q.dtype)
            }
        }
        try writer.write(to: output)
    }
}
