import Foundation
import Testing
@testable import LoRAKit
import TestSupport

/// A resized file records its new ranks and scales in its own format's layout (kohya `.alpha` tensors,
/// PEFT `lora_adapter_metadata`, cloneofsimo `unet:N:rank` metadata): read back, and baked into a model,
/// it gives the resized ΔW = (α/r)·up·down of every module.
@Suite("RankTools resize keeps each format's layout")
struct RankToolsResizeLayoutTests {
    /// Resizes `input` to `rank` and checks every module of the result against the resized factors.
    /// Returns the input, the output and the expected ΔW per target.
    @discardableResult
    /// `every`: compare every n-th module's ΔW (all modules' ranks and scales are checked).
    static func resizeAndCompare(_ inputURL: URL, rank: Int, in folder: URL, every: Int = 1) throws -> (input: LoRAFile, output: LoRAFile, deltas: [ModuleTarget: (shape: [Int], delta: [Float])]) {
        let input = try LoRAFile(contentsOf: inputURL)
        let out = folder.appendingPathComponent(inputURL.deletingPathExtension().lastPathComponent + ".r\(rank).safetensors")
        let report = try LoRAResize.resize(input, options: .init(rank: rank), output: out)
        let output = try LoRAFile(contentsOf: out)
        #expect(output.format == input.format)
        #expect(output.unrecognized.isEmpty, "\(output.unrecognized.map(\.reason))")
        #expect(output.modules.count == input.modules.count)
        #expect(report.modules.count == input.modules.count)
        var deltas: [ModuleTarget: (shape: [Int], delta: [Float])] = [:]
        for (i, m) in input.modules.enumerated() {
            let o = try #require(output.module(for: m.target), "\(m.target) missing after resize")
            #expect(o.rank == min(rank, m.rank ?? 0), "\(m.target): rank \(String(describing: o.rank))")
            #expect(abs(o.scale - m.scale) <= 1e-6 * max(1, abs(m.scale)), "\(m.target): scale \(o.scale) vs \(m.scale)")
            guard i % every == 0 else { continue }
            let f = try #require(m.lowRankFactors, "\(m.target)")
            let resized = try LoRAResize.resize(up: f.up, upShape: f.upShape, down: f.down, downShape: f.downShape,
                                                scale: m.scale, maxRank: rank, rule: .fixed)
            let r = resized.downShape[0], columns = resized.down.count / r
            let want = try BLAS.product(m: f.upShape[0], n: columns, k: r, alpha: resized.alpha / Float(r), resized.up, resized.down)
            #expect(o.rank == r, "\(m.target): rank \(String(describing: o.rank)) vs \(r)")
            let shape = [f.upShape[0], columns]
            let got = try o.deltaWeight(shape: shape)
            #expect(RankFixtures.relativeError(got, want) <= 1e-6, "\(m.target)")
            // The bake's operation on a zero weight is the ΔW.
            var baked = [Float](repeating: 0, count: want.count)
            try o.apply(toWeight: &baked, shape: shape, strength: 1)
            #expect(RankFixtures.relativeError(baked, want) <= 1e-6, "\(m.target) bake")
            deltas[m.target] = (shape, want)
        }
        return (input, output, deltas)
    }

    @Test("kohya: .alpha tensors beside the down keys, ss_network_dim of the new rank")
    func kohya() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (_, output, _) = try Self.resizeAndCompare(MergeFixtures.url("lora/sd1_kohya.safetensors"), rank: 2, in: folder)
        let names = Set(output.file.names)
        for m in output.modules {
            let down = try #require(m.tensors[.down]).name
            #expect(names.contains(LoRAResize.alphaStem(downKey: down) + ".alpha"), "\(down)")
        }
        #expect(output.file.metadata?["ss_network_dim"] == "2")
    }

    @Test("PEFT: new r / lora_alpha / patterns in lora_adapter_metadata, no .alpha tensors, bake matches")
    func peft() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (input, output, deltas) = try Self.resizeAndCompare(MergeFixtures.url("lora/sd1_peft.safetensors"), rank: 2, in: folder)
        #expect(!output.file.names.contains { $0.hasSuffix(".alpha") }, "\(output.file.names.filter { $0.hasSuffix(".alpha") })")
        #expect(output.file.metadata?["ss_network_dim"] == nil)
        let config = try #require(AdapterMetadata(metadata: output.file.metadata ?? [:]))
        for m in output.modules {
            let (alpha, rs) = config.alpha(for: m.target)
            #expect(!rs)
            #expect(alpha == m.scale * Float(m.rank ?? 0), "\(m.target): config alpha \(String(describing: alpha))")
        }
        // Every component's r is one of the new ranks; the input's differed.
        for (component, c) in config.components {
            #expect(c.rank == 2, "\(component)")
            #expect(c.rankPattern.values.allSatisfy { $0 <= 2 })
        }
        #expect(input.modules.contains { ($0.rank ?? 0) > 2 })

        // Baked into the SD1 fixture model, the result patches by exactly the resized ΔW.
        let merged = folder.appendingPathComponent("merged")
        let report = try ModelMerger.merge(into: MergeFixtures.url("sd1"), sources: [MergeSource(lora: output, strength: 1)], output: merged)
        #expect(report.loras.allSatisfy { $0.skipped.isEmpty })
        var compared = 0
        for (component, path) in [(ModelComponent.unet, "unet/diffusion_pytorch_model.safetensors"), (.textEncoder, "text_encoder/model.safetensors")] {
            let base = try SafetensorsFile(contentsOf: MergeFixtures.url("sd1/" + path))
            let after = try SafetensorsFile(contentsOf: merged.appendingPathComponent(path))
            let part = try #require(ModelPart(rawValue: component.rawValue))
            let index = ParameterIndex.diffusersComponent(base, component: part)
            for (target, d) in deltas where target.component == component {
                let loc = try #require(index.location(of: ParameterKey(component: part, name: target.path + ".weight")))
                let w0 = try base.tensor(named: loc.tensorName).floats(), w1 = try after.tensor(named: loc.tensorName).floats()
                let change = zip(w1, w0).map { $0 - $1 }
                #expect(change.count == d.delta.count)
                let err = zip(change, d.delta).map { abs($0 - $1) }.max() ?? 0
                #expect(err <= 1e-5, "\(target): baked change differs by \(err)")
                compared += 1
            }
        }
        #expect(compared == deltas.count)
    }

    @Test("cloneofsimo: no .alpha keys, unet:N:rank metadata of the new rank", .enabled(if: RealWorld.isPresent, RealWorld.missingReason))
    func cloneofsimo() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        // A rank-4 file shrunk to rank 2 (growing a rank is covered by RankToolsResizeTests.growRank).
        let (input, output, _) = try Self.resizeAndCompare(try RealWorld.url("analog_svd_rank4.safetensors"), rank: 2, in: folder, every: 16)
        #expect(output.format == .cloneofsimo)
        #expect(!output.file.names.contains { $0.hasSuffix(".alpha") || $0.hasSuffix(":alpha") })
        #expect(output.embeddedTokens.map(\.name) == input.embeddedTokens.map(\.name))
        let meta = output.file.metadata ?? [:]
        var ranks = 0
        for (key, value) in meta where key.hasSuffix(":rank") {
            #expect(value == "2", "\(key) = \(value)")
            ranks += 1
        }
        #expect(ranks == output.modules.count)
        #expect(meta["ss_network_dim"] == nil && meta["ss_training_comment"] == nil)
    }

    @Test("the PEFT config keeps its other fields and rewrites only the rank fields")
    func peftConfigRewrite() throws {
        let original = #"{"unet.r": 8, "unet.lora_alpha": 8, "unet.use_dora": true, "unet.target_modules": ["to_q"], "unet.lora_dropout": 0.1, "unet.use_rslora": true}"#
        let text = ResizeLayout.peftMetadata(original: original, modules: [.unet: [("a.to_q", 2, 1), ("b.to_q", 4, 1)]])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["unet.r"] as? Int == 2)
        #expect(object["unet.lora_alpha"] as? Int == 1)
        #expect((object["unet.rank_pattern"] as? [String: Int]) == ["b.to_q": 4])
        #expect((object["unet.alpha_pattern"] as? [String: Int]) == [:])
        #expect(object["unet.use_rslora"] as? Bool == false)
        #expect(object["unet.use_dora"] as? Bool == true)
        #expect(object["unet.target_modules"] as? [String] == ["to_q"])
        #expect(object["unet.lora_dropout"] as? Double == 0.1)
    }
}
