import Foundation
import Testing
@testable import LoRAKit

@Suite("Merge behaviour")
struct MergeBehaviourTests {
    func source(_ file: String, _ strength: Float = 1) throws -> MergeSource {
        MergeSource(lora: try LoRAFile(contentsOf: MergeFixtures.url(file)), strength: strength)
    }

    @Test("a LoRA for another family is refused, naming both")
    func baseMismatch() throws {
        let tmp = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let out = tmp.appendingPathComponent("out")
        #expect {
            try ModelMerger.merge(into: MergeFixtures.url("sdxl"), sources: [try source("lora/sd1_kohya.safetensors")], output: out)
        } throws: { error in
            guard case MergeError.baseModelMismatch(_, .sd1, _, .sdxl) = error else { return false }
            return "\(error)".contains("SD 1.x") && "\(error)".contains("SDXL")
        }
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }

    @Test("strict mode refuses unused keys and writes nothing")
    func strictUnused() throws {
        let tmp = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: tmp) }
        // The UNet component file alone: the LoRA's text-encoder keys have nowhere to go.
        let unet = MergeFixtures.url("sd1/unet/diffusion_pytorch_model.safetensors")
        let out = tmp.appendingPathComponent("unet.safetensors")
        #expect(throws: MergeError.self) {
            try ModelMerger.merge(into: unet, sources: [try source("lora/sd1_kohya.safetensors")], output: out,
                                  options: MergeOptions(strict: true))
        }
        #expect(!FileManager.default.fileExists(atPath: out.path))
        let report = try ModelMerger.merge(into: unet, sources: [try source("lora/sd1_kohya.safetensors")], output: out)
        let lora = try #require(report.loras.first)
        #expect(!lora.applied.isEmpty)
        #expect(!lora.unusedKeys.isEmpty)
        #expect(lora.unusedKeys.allSatisfy { $0.key.hasPrefix("lora_te_") && $0.reason.contains("no layer") })
    }

    @Test("an existing output is kept unless overwriting; the base is never the output")
    func outputRules() throws {
        let tmp = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let out = tmp.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let marker = out.appendingPathComponent("keep.txt")
        try Data("x".utf8).write(to: marker)
        let sources = [try source("lora/sd1_kohya.safetensors", 0.5)]
        #expect(throws: MergeError.self) { try ModelMerger.merge(into: MergeFixtures.url("sd1"), sources: sources, output: out) }
        #expect(FileManager.default.fileExists(atPath: marker.path))
        _ = try ModelMerger.merge(into: MergeFixtures.url("sd1"), sources: sources, output: out, options: MergeOptions(overwrite: true))
        #expect(!FileManager.default.fileExists(atPath: marker.path))
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("unet/diffusion_pytorch_model.safetensors").path))
        #expect(throws: MergeError.self) {
            try ModelMerger.merge(into: out, sources: sources, output: out, options: MergeOptions(overwrite: true))
        }
        // No staging folders are left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path).filter { $0.hasPrefix(".") }.isEmpty)
    }

    @Test("strict mode: a module that does not fit fails before the output is replaced")
    func strictShapeFailureKeepsOldOutput() throws {
        let tmp = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: tmp) }
        // A module named like a real layer but with factors of the wrong size.
        var writer = SafetensorsWriter()
        writer.add(name: "lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight", shape: [2, 5], floats: [Float](repeating: 0.1, count: 10))
        writer.add(name: "lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight", shape: [7, 2], floats: [Float](repeating: 0.1, count: 14))
        let bad = tmp.appendingPathComponent("bad.safetensors")
        try writer.write(to: bad)
        let out = tmp.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let marker = out.appendingPathComponent("keep.txt")
        try Data("x".utf8).write(to: marker)
        let source = MergeSource(lora: try LoRAFile(contentsOf: bad), strength: 1)
        #expect {
            try ModelMerger.merge(into: MergeFixtures.url("sd1"), sources: [source], output: out,
                                  options: MergeOptions(strict: true, overwrite: true, allowBaseMismatch: true))
        } throws: { error in
            // The LoRA error is kept as it was thrown; the message names the module once.
            guard let e = error as? MergeError, case .patchFailed(_, let module, let underlying) = e else { return false }
            guard case .shapeMismatch(let target, _, _) = underlying, target == module else { return false }
            return e.description == "bad.safetensors: cannot apply \(module): \(underlying.detail)"
                && e.description.components(separatedBy: module).count == 2
        }
        #expect(FileManager.default.fileExists(atPath: marker.path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path).filter { $0.hasPrefix(".") }.isEmpty)
        // Without strict, the module is skipped and reported; as nothing else applies, that is an error
        // (the old output kept) unless empty output is allowed.
        #expect {
            try ModelMerger.merge(into: MergeFixtures.url("sd1"), sources: [source], output: out,
                                  options: MergeOptions(overwrite: true, allowBaseMismatch: true))
        } throws: { error in
            guard case MergeError.nothingApplied(let report) = error else { return false }
            return report.loras[0].skipped.map(\.module) == ["unet.down_blocks.0.attentions.0.proj_in"] && report.tensorsPatched == 0
        }
        #expect(FileManager.default.fileExists(atPath: marker.path))
        let report = try ModelMerger.merge(into: MergeFixtures.url("sd1"), sources: [source], output: out,
                                           options: MergeOptions(overwrite: true, allowBaseMismatch: true, allowEmpty: true))
        #expect(report.loras[0].skipped.map(\.module) == ["unet.down_blocks.0.attentions.0.proj_in"])
        #expect(report.tensorsPatched == 0)
    }

    @Test("--dtype converts every float tensor once")
    func outputDType() throws {
        let tmp = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let out = tmp.appendingPathComponent("out")
        _ = try ModelMerger.merge(into: MergeFixtures.url("sd1"), sources: [try source("lora/sd1_kohya.safetensors", 0.8)], output: out,
                                  options: MergeOptions(outputDType: .bf16))
        let merged = try SafetensorsFile(contentsOf: out.appendingPathComponent("unet/diffusion_pytorch_model.safetensors"))
        #expect(merged.tensors.allSatisfy { $0.dtype == .bf16 })
        let f32 = tmp.appendingPathComponent("f32")
        _ = try ModelMerger.merge(into: MergeFixtures.url("sd1"), sources: [try source("lora/sd1_kohya.safetensors", 0.8)], output: f32)
        let reference = try SafetensorsFile(contentsOf: f32.appendingPathComponent("unet/diffusion_pytorch_model.safetensors"))
        for info in reference.tensors.prefix(50) {
            let want = reference.tensor(info).floats().map { Float(bitPattern: UInt32(ElementConversion.bfloat16Bits($0)) << 16) }
            #expect(try merged.tensor(named: info.name).floats() == want, "\(info.name)")
        }
    }

    @Test("LoRA → LoRA concatenation reproduces Σ λ·ΔW exactly")
    func concatenation() throws {
        let tmp = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let a = try LoRAFile(contentsOf: MergeFixtures.url("lora/sd1_kohya.safetensors"))
        let b = try LoRAFile(contentsOf: MergeFixtures.url("lora/sd1_second.safetensors"))
        let out = tmp.appendingPathComponent("ab.safetensors")
        let report = try LoRAConcatenation.merge(
            [(a, MergeSource(lora: a, strength: 0.6)), (b, MergeSource(lora: b, strength: -0.4, textEncoderStrength: 0.3))], output: out)
        #expect(report.skipped.isEmpty)
        let merged = try LoRAFile(contentsOf: out)
        #expect(merged.modules.count == report.modulesWritten)
        #expect(merged.baseModel.detected == .sd1)
        for module in merged.modules {
            let shape = try #require(a.module(for: module.target) ?? b.module(for: module.target)).expectedShapeForTest
            var want = [Float](repeating: 0, count: shape.reduce(1, *))
            for (lora, strength) in [(a, Float(0.6)), (b, module.target.component == .unet ? Float(-0.4) : 0.3)] {
                if let m = lora.module(for: module.target) {
                    for (i, v) in try m.deltaWeight(shape: shape).enumerated() { want[i] += strength * v }
                }
            }
            let got = try module.deltaWeight(shape: shape)
            let (d, i) = try #require(MergeFixtures.maxDifference(got, want))
            #expect(d <= 1e-6 * max(1, abs(want[max(i, 0)])), "\(module.target) [\(i)]")
        }
        #expect(try SafetensorsFile(contentsOf: out).metadata?["lorakit_merge_sources"]?.contains("sd1_second") == true)
    }
}

@Suite("kohya names of written files")
struct KohyaNamingTests {
    @Test("an SDXL concatenation is written with SGM UNet names and reads back to the same layers")
    func sdxlUsesSGMNames() throws {
        let tmp = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let a = try LoRAFile(contentsOf: MergeFixtures.url("lora/sdxl_kohya_sgm.safetensors"))
        let b = try LoRAFile(contentsOf: MergeFixtures.url("lora/sdxl_peft.safetensors"))
        let out = tmp.appendingPathComponent("xl.safetensors")
        _ = try LoRAConcatenation.merge([(a, MergeSource(lora: a, strength: 1)), (b, MergeSource(lora: b, strength: 0.5))], output: out)
        let file = try SafetensorsFile(contentsOf: out)
        let unet = file.names.filter { $0.hasPrefix("lora_unet_") }
        #expect(!unet.isEmpty)
        #expect(unet.allSatisfy { $0.hasPrefix("lora_unet_input_blocks_") || $0.hasPrefix("lora_unet_middle_block_")
                                  || $0.hasPrefix("lora_unet_output_blocks_") || $0.hasPrefix("lora_unet_time_embed_")
                                  || $0.hasPrefix("lora_unet_label_emb_") || $0.hasPrefix("lora_unet_out_") }, "\(unet.prefix(5))")
        #expect(file.names.contains { $0.hasPrefix("lora_te1_") } && file.names.contains { $0.hasPrefix("lora_te2_") })
        let merged = try LoRAFile(contentsOf: out)
        #expect(merged.unrecognized.isEmpty)
        #expect(Set(merged.modules.map(\.target)) == Set(a.modules.map(\.target)).union(b.modules.map(\.target)))
    }
}

extension LoRAModule {
    /// The full weight shape this module's factors imply ([out, in] or [out, in, kh, kw]).
    var expectedShapeForTest: [Int] {
        guard let f = lowRankFactors else { return [] }
        return [f.upShape[0]] + f.downShape.dropFirst()
    }
}
