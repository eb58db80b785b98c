import Foundation
import Testing
@testable import LoRAKit

/// Baking against diffusers `load_lora_weights` + `fuse_lora` (Scripts/fixtures/merge_fixtures.py).
/// Tolerance: 1e-5 absolute for F32 weights; one half-float rounding step for F16 weights.
@Suite("Merge against diffusers fuse_lora")
struct MergeGoldenTests {
    static let componentFiles: [String: String] = [
        "unet": "unet/diffusion_pytorch_model.safetensors",
        "text_encoder": "text_encoder/model.safetensors",
        "text_encoder_2": "text_encoder_2/model.safetensors",
    ]

    static func tolerance(_ dtype: DType, _ value: Float) -> Float {
        dtype == .f16 ? max(abs(value) * 0x1p-10, 0x1p-24) : 1e-5
    }

    @Test("baking into a diffusers folder matches diffusers", arguments: try MergeCase.all())
    func folder(_ c: MergeCase) throws {
        let tmp = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let out = tmp.appendingPathComponent("merged")
        let report = try ModelMerger.merge(into: MergeFixtures.url(c.folder), sources: c.sources(), output: out)
        #expect(report.loras.allSatisfy { $0.skipped.isEmpty && $0.unusedKeys.isEmpty }, "\(report.loras.map { ($0.skipped, $0.unusedKeys.prefix(3)) })")

        let expected = try MergeFixtures.expected(c.expected)
        var checked = Set<String>()
        for info in expected.tensors {
            let parts = info.name.split(separator: "/", maxSplits: 1).map(String.init)
            let file = try SafetensorsFile(contentsOf: out.appendingPathComponent(try #require(Self.componentFiles[parts[0]])))
            let actual = try file.tensor(named: parts[1])
            let want = try expected.tensor(named: info.name).floats()
            let got = actual.floats()
            let (d, i) = try #require(MergeFixtures.maxDifference(got, want), "\(info.name): size \(got.count) vs \(want.count)")
            if i >= 0 {
                #expect(d <= Self.tolerance(actual.dtype, want[i]), "\(c.name) \(info.name)[\(i)]: got \(got[i]), diffusers \(want[i])")
            }
            checked.insert(info.name)
        }
        #expect(!checked.isEmpty)

        // Everything diffusers left alone is byte-identical to the base.
        for (component, path) in Self.componentFiles {
            let baseURL = MergeFixtures.url(c.folder).appendingPathComponent(path)
            guard FileManager.default.fileExists(atPath: baseURL.path) else { continue }
            let base = try SafetensorsFile(contentsOf: baseURL)
            let merged = try SafetensorsFile(contentsOf: out.appendingPathComponent(path))
            #expect(base.names.sorted() == merged.names.sorted())
            for info in base.tensors where !checked.contains("\(component)/\(info.name)") {
                #expect(try merged.tensor(named: info.name).bytes() == base.tensor(info).bytes(), "\(component)/\(info.name) changed")
            }
        }
        // Files other than weights are copied through.
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("model_index.json").path))
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("scheduler/scheduler_config.json").path))
    }

    @Test("baking into the single-file checkpoint gives the same weights", arguments: try MergeCase.all())
    func checkpoint(_ c: MergeCase) throws {
        let tmp = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let checkpoint = tmp.appendingPathComponent("\(c.model).safetensors")
        try CheckpointBuilder.build(model: c.model, folder: MergeFixtures.url(c.folder), to: checkpoint)
        let out = tmp.appendingPathComponent("merged.safetensors")
        let report = try ModelMerger.merge(into: checkpoint, sources: c.sources(), output: out)
        #expect(report.loras.allSatisfy { $0.skipped.isEmpty && $0.unusedKeys.isEmpty })

        let merged = try SafetensorsFile(contentsOf: out)
        let index = ParameterIndex.checkpoint(merged)
        let expected = try MergeFixtures.expected(c.expected)
        for info in expected.tensors {
            let parts = info.name.split(separator: "/", maxSplits: 1).map(String.init)
            let component = try #require(ModelComponent(rawValue: parts[0]))
            let name = component == .unet ? parts[1] : TextEncoderCheckpointNames.withTextModelLevel(parts[1])
            let location = try #require(index.location(of: ParameterKey(component: component, name: name)), "\(info.name) not in checkpoint")
            let view = try merged.tensor(named: location.tensorName)
            var got = view.floats()
            if let third = location.fusedThird {
                let n = got.count / 3
                got = Array(got[(third * n)..<((third + 1) * n)])
            }
            let want = try expected.tensor(named: info.name).floats()
            let (d, i) = try #require(MergeFixtures.maxDifference(got, want))
            if i >= 0 {
                #expect(d <= Self.tolerance(view.dtype, want[i]), "\(c.name) \(info.name)[\(i)]: got \(got[i]), diffusers \(want[i])")
            }
        }
    }
}
