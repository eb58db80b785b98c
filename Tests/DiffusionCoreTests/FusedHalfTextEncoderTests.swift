import Foundation
import LoRAKit
import Testing
@testable import DiffusionCore

/// A LoRA fused into a half-precision text encoder (`Scripts/fixtures/fused_half_te_fixtures.py`, `fused-half-te/`):
/// the fp16 text encoder of the tiny SD1-shaped pipeline `single-file/sd1-tiny` with a kohya `lora_te_` LoRA
/// (float32 factors) fused by diffusers' `fuse_lora(components=["text_encoder"], lora_scale=0.35)` (PEFT: factors
/// in float16, `s·U·D` in float32, rounded to float16, added in float16).
/// Tolerances: fused weights equal diffusers' bit for bit but for at most 1 in 1000 elements, each at most one
/// float16 step away (the float32 products of U·D are summed in another order), as for the UNet's; removing the
/// LoRA gives back the file's elements exactly.
@Suite("LoRAs fused into half-precision text encoders")
struct FusedHalfTextEncoderTests {
    static let base: URL? = Bundle.module.url(forResource: "fused-half-te", withExtension: nil, subdirectory: "Fixtures")

    struct Cases: Decodable { let scale: Float, patched: Int }

    static func cases() throws -> Cases {
        let folder = try #require(base, "fused-half-te fixtures are missing")
        return try JSONDecoder().decode(Cases.self, from: Data(contentsOf: folder.appendingPathComponent("cases.json")))
    }

    static func lora(_ pipeline: DiffusionPipeline, strength: Float) throws -> PipelineLoRA {
        let url = try #require(base).appendingPathComponent("tiny-te-fp16-lora.safetensors")
        return PipelineLoRA(name: "tiny-te", file: try pipeline.openLoRA(at: url), unetStrength: 0, textEncoderStrength: strength)
    }

    /// A matrix's stored half-precision elements (empty for a float32 matrix).
    static func bits(_ view: TensorView) -> [UInt16] {
        view.withUnsafeBytes { raw in (0..<(raw.count / 2)).map { raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self) } }
    }

    static func halfBits(_ m: WeightMatrix) -> [UInt16] {
        m.withHalfBytes { raw in
            (0..<(m.rows * m.columns)).map { raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self) }
        } ?? []
    }

    /// Every matrix of the active text encoder as stored half-precision elements, q/k/v stacked.
    static func matrices(_ pipeline: DiffusionPipeline) -> [[UInt16]] {
        pipeline.promptEncoder.stages.flatMap { stage in
            stage.encoder.weights.layers.flatMap { l in [l.qkvProj, l.outProj, l.fc1, l.fc2].map(halfBits) }
        }
    }

    /// The same matrices as the file stores them (q, k and v rows one after the other).
    static func fileMatrices(_ folder: URL, layers: Int) throws -> [[UInt16]] {
        let file = try SafetensorsFile(path: folder.appendingPathComponent("text_encoder/model.fp16.safetensors").path)
        func stored(_ name: String) throws -> [UInt16] {
            let view = try file.tensor(named: file.tensors.contains { $0.name == "text_model." + name } ? "text_model." + name : name)
            #expect(view.dtype == .f16, "\(name)")
            return bits(view)
        }
        var out: [[UInt16]] = []
        for l in 0..<layers {
            let p = "encoder.layers.\(l)."
            out.append(try ["q", "k", "v"].flatMap { try stored(p + "self_attn.\($0)_proj.weight") })
            out += try ["self_attn.out_proj.weight", "mlp.fc1.weight", "mlp.fc2.weight"].map { try stored(p + $0) }
        }
        return out
    }

    @Test("A half-precision text encoder keeps q/k/v stacked in half precision; fused weights equal PEFT's fp16 fuse_lora; removal restores the file's weights")
    func fusedHalfMatchesPEFT() throws {
        let cases = try Self.cases()
        let folder = try #require(SingleFileLoadingTests.base?.appendingPathComponent("sd1-tiny"))
        let pipeline = try DiffusionPipeline(folder: folder)
        let layers = try #require(pipeline.promptEncoder.stages.first).encoder.weights.layers.count
        let original = try Self.fileMatrices(folder, layers: layers)
        let loaded = Self.matrices(pipeline)
        #expect(loaded.allSatisfy { !$0.isEmpty }, "a matrix of the fp16 text encoder is held in float32")
        #expect(loaded == original, "the loaded matrices are not the file's elements")

        let report = try pipeline.fuse([try Self.lora(pipeline, strength: cases.scale)])
        #expect(report.textEncoderLayersPatched == cases.patched)
        let fused = try #require(pipeline.fusion?.textEncoderParameters.first)
        let outputs = try SafetensorsFile(path: try #require(Self.base).appendingPathComponent("outputs.safetensors").path)
        try FusedHalfPrecisionTests.expectFusedHalfEqual(fused, outputs)

        // The encoder runs the fused values as they are: half precision, q/k/v stacked from the fused thirds.
        let now = Self.matrices(pipeline)
        #expect(now.allSatisfy { !$0.isEmpty }, "a fused matrix of the text encoder is held in float32")
        for l in 0..<layers {
            let p = "text_model.encoder.layers.\(l)."
            func fusedBits(_ name: String) -> [UInt16]? {
                guard case let .half(buffer, _)? = fused[p + name]?.values else { return nil }
                return Array(UnsafeBufferPointer(start: buffer.base, count: buffer.count))
            }
            let qkv = ["q", "k", "v"].compactMap { fusedBits("self_attn.\($0)_proj.weight") }
            if qkv.count == 3 { #expect(now[4 * l] == qkv.flatMap { $0 }, "layer \(l) q/k/v") }
            #expect(now[4 * l + 1] == fusedBits("self_attn.out_proj.weight"), "layer \(l) out_proj")
        }
        #expect(now != original)

        try pipeline.fuse([])
        #expect(Self.matrices(pipeline) == original, "removing the LoRA did not give back the file's weights")
    }
}
