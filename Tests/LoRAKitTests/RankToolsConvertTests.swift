import Foundation
import Testing
@testable import LoRAKit

/// `LoRAConversion`: kohya ↔ PEFT round trips keep every factor bit for bit and every
/// module's scale; SGM ↔ diffusers UNet names; refusals; `bakeRank`; and the diffusers
/// verdict on committed converted files (`Fixtures/convert/`, `Scripts/fixtures/convert_fixtures.py`).
@Suite("RankTools convert")
struct RankToolsConvertTests {
    static func lora(_ name: String) -> URL { Fixtures.url(name, subdirectory: "lora") }

    /// The error `body` throws, nil when it succeeds.
    static func conversionError(_ body: () throws(RankToolsError) -> Void) -> RankToolsError? {
        do { try body() } catch { return error }
        return nil
    }

    /// The natural ΔW shape of a plain module.
    static func shape(_ m: LoRAModule) -> [Int] {
        [m.tensors[.up]!.shape[0]] + m.tensors[.down]!.shape.dropFirst()
    }

    /// Every module of `a` has a twin in `b` with the same factors (bits and dtype), scale and ΔW.
    static func expectSameModules(_ a: LoRAFile, _ b: LoRAFile, _ label: String) throws {
        #expect(a.modules.count == b.modules.count, "\(label)")
        for m in a.modules {
            guard let n = b.module(for: m.target) else {
                Issue.record("\(label): \(m.target) missing")
                continue
            }
            #expect(m.scale == n.scale, "\(label) \(m.target): scale \(m.scale) vs \(n.scale)")
            #expect(m.family == n.family && m.isDoRA == n.isDoRA, "\(label) \(m.target)")
            if let f = m.lowRankFactors, let g = n.lowRankFactors {
                #expect(f.up.map(\.bitPattern) == g.up.map(\.bitPattern), "\(label) \(m.target) up")
                #expect(f.down.map(\.bitPattern) == g.down.map(\.bitPattern), "\(label) \(m.target) down")
                #expect(f.upShape == g.upShape && f.downShape == g.downShape, "\(label) \(m.target) shapes")
                #expect(m.tensors[.up]?.dtype == n.tensors[.up]?.dtype, "\(label) \(m.target) dtype")
                let s = shape(m)
                #expect(try m.deltaWeight(shape: s).map(\.bitPattern) == n.deltaWeight(shape: s).map(\.bitPattern), "\(label) \(m.target) ΔW")
            } else {
                #expect(m.lowRankFactors == nil && n.lowRankFactors == nil, "\(label) \(m.target)")
                for (role, view) in m.tensors where role != .alpha {
                    #expect(view.floats().map(\.bitPattern) == n.tensors[role]?.floats().map(\.bitPattern), "\(label) \(m.target) \(role)")
                }
            }
        }
    }

    @Test("kohya → PEFT → kohya keeps factors bit for bit and every scale", arguments: [
        "lora/kohya_sd1.safetensors", "lora/kohya_sdxl_sgm.safetensors", "lora/lcm_sdxl.safetensors",
        "merge/lora/sd1_kohya.safetensors", "merge/lora/sd2_kohya.safetensors", "merge/lora/sdxl_kohya_sgm.safetensors",
        "merge/lora/sd1_second.safetensors",
    ])
    func kohyaRoundTrip(_ path: String) throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let input = Bundle.module.url(forResource: "Fixtures/" + path, withExtension: nil)!
        let original = try LoRAFile(contentsOf: input)
        let before = original.file.computeHashes()
        let peftURL = folder.appendingPathComponent("peft.safetensors")
        let report = try LoRAConversion.convert(original, options: .init(layout: .peft), output: peftURL)
        #expect(report.modulesWritten == original.modules.count && report.baked.isEmpty)
        let peft = try LoRAFile(contentsOf: peftURL)
        #expect(peft.format == .peftDiffusers)
        #expect(peft.file.metadata?["lora_adapter_metadata"] != nil)
        try Self.expectSameModules(original, peft, path + " → peft")
        let back = folder.appendingPathComponent("kohya.safetensors")
        let sgmNamed = original.file.names.contains { $0.hasPrefix("lora_unet_input_blocks_") || $0.hasPrefix("lora_unet_output_blocks_") }
        _ = try LoRAConversion.convert(peft, options: .init(layout: .kohya, unetNaming: sgmNamed ? .sgm : .diffusers), output: back)
        let kohya = try LoRAFile(contentsOf: back)
        #expect(kohya.format == .kohya)
        try Self.expectSameModules(original, kohya, path + " → peft → kohya")
        if original.format == .kohya {
            // Same keys as the original (SDXL back under SGM names), bytes of the factors unchanged.
            let names = Set(original.file.names.filter { !$0.hasSuffix(".alpha") })
            #expect(names == Set(kohya.file.names.filter { !$0.hasSuffix(".alpha") }), "\(path): key set")
            for name in names {
                #expect(try original.file.tensor(named: name).bytes() == kohya.file.tensor(named: name).bytes(), "\(name)")
            }
        }
        #expect(try LoRAFile(contentsOf: input).file.computeHashes() == before)
    }

    @Test("PEFT → kohya → PEFT keeps factors and the alpha/rank patterns", arguments: [
        "lora/peft_sd1.safetensors", "merge/lora/sd1_peft.safetensors", "merge/lora/sdxl_peft.safetensors",
    ])
    func peftRoundTrip(_ path: String) throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let original = try LoRAFile(contentsOf: Bundle.module.url(forResource: "Fixtures/" + path, withExtension: nil)!)
        let kohyaURL = folder.appendingPathComponent("kohya.safetensors")
        let report = try LoRAConversion.convert(original, options: .init(layout: .kohya), output: kohyaURL)
        let kohya = try LoRAFile(contentsOf: kohyaURL)
        #expect(kohya.file.metadata?["sshs_model_hash"] != nil)
        #expect(report.unetNaming == (original.baseModel.detected == .sdxl ? .sgm : .diffusers))
        try Self.expectSameModules(original, kohya, path + " → kohya")
        let peftURL = folder.appendingPathComponent("peft.safetensors")
        _ = try LoRAConversion.convert(kohya, options: .init(layout: .peft), output: peftURL)
        try Self.expectSameModules(original, try LoRAFile(contentsOf: peftURL), path + " → kohya → peft")
    }

    @Test("PEFT metadata: most common r / lora_alpha, exceptions in the patterns, text-encoder names without text_model.")
    func peftMetadata() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let original = try LoRAFile(contentsOf: RankFixtures.mergeURL("lora/sd1_kohya.safetensors"))
        let out = folder.appendingPathComponent("p.safetensors")
        _ = try LoRAConversion.convert(original, options: .init(layout: .peft), output: out)
        let file = try SafetensorsFile(contentsOf: out)
        let raw = try #require(file.metadata?["lora_adapter_metadata"])
        let config = try #require(try JSONSerialization.jsonObject(with: Data(raw.utf8)) as? [String: Any])
        #expect(config["unet.r"] as? Int == 4 && config["unet.lora_alpha"] as? Int == 2)
        let unetRanks = try #require(config["unet.rank_pattern"] as? [String: Int])
        let unetAlphas = try #require(config["unet.alpha_pattern"] as? [String: Double])
        for m in original.modules where m.target.component == .unet {
            let r = m.lowRankFactors!.downShape[0]
            #expect((unetRanks[m.target.path] ?? 4) == r, "\(m.target)")
            #expect(Float(unetAlphas[m.target.path] ?? 2) / Float(r) == m.scale, "\(m.target)")
        }
        let targets = try #require(config["text_encoder.target_modules"] as? [String])
        #expect(!targets.isEmpty && targets.allSatisfy { $0.hasPrefix("encoder.layers.") })
        #expect(file.names.contains { $0.hasPrefix("text_encoder.text_model.encoder.layers.") })
        // Python json.dumps(indent=2, sort_keys=True) layout.
        #expect(raw.hasPrefix("{\n  \"text_encoder.alpha_pattern\": "))
    }

    @Test("SDXL UNet names: SGM → diffusers → SGM gives the original keys and bytes")
    func sgmNames() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let original = try LoRAFile(contentsOf: Self.lora("kohya_sdxl_sgm.safetensors"))
        let a = folder.appendingPathComponent("diffusers.safetensors")
        let report = try LoRAConversion.convert(original, options: .init(layout: .kohya, unetNaming: .diffusers), output: a)
        #expect(report.unetNaming == .diffusers)
        let d = try LoRAFile(contentsOf: a)
        let unetKeys = d.file.names.filter { $0.hasPrefix("lora_unet_") }
        #expect(!unetKeys.isEmpty && unetKeys.allSatisfy { $0.hasPrefix("lora_unet_down_blocks_") || $0.hasPrefix("lora_unet_up_blocks_") || $0.hasPrefix("lora_unet_mid_block_") })
        #expect(d.file.names.contains { $0.hasPrefix("lora_te1_") })
        try Self.expectSameModules(original, d, "sgm → diffusers")
        let b = folder.appendingPathComponent("sgm.safetensors")
        _ = try LoRAConversion.convert(d, options: .init(layout: .kohya, unetNaming: .sgm), output: b)
        let s = try SafetensorsFile(contentsOf: b)
        #expect(Set(s.names) == Set(original.file.names))
        for name in original.file.names { #expect(try s.tensor(named: name).bytes() == original.file.tensor(named: name).bytes(), "\(name)") }
    }

    @Test("LoHa, LoKr, DoRA, Tucker, full, norm, IA³ are refused for PEFT with their names; nothing is written", arguments: [
        "loha.safetensors", "lokr.safetensors", "dora_kohya.safetensors", "dora_peft.safetensors", "lycoris_formula.safetensors",
    ])
    func refusals(_ name: String) throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let lora = try LoRAFile(contentsOf: Self.lora(name))
        let out = folder.appendingPathComponent("x.safetensors")
        let error = Self.conversionError { () throws(RankToolsError) in
            _ = try LoRAConversion.convert(lora, options: .init(layout: .peft), output: out)
        }
        if case .unsupportedConversion(let module, let reason)? = error {
            #expect(module.contains("unet.down_blocks.0") || module.contains("text_encoder."), "\(module)")
            #expect(reason.contains("cannot be stored as peft LoRA"), "\(reason)")
            if name.hasPrefix("loha") || name.hasPrefix("lokr") { #expect(reason.contains("--bake-rank")) }
            if name.hasPrefix("dora") { #expect(reason.contains("DoRA")) }
        } else {
            Issue.record("\(name): \(String(describing: error))")
        }
        #expect(!FileManager.default.fileExists(atPath: out.path))
        // The kohya/LyCORIS layout holds them all: same modules and tensors.
        do {
            let k = folder.appendingPathComponent("k.safetensors")
            _ = try LoRAConversion.convert(lora, options: .init(layout: .kohya), output: k)
            let back = try LoRAFile(contentsOf: k)
            try Self.expectSameModules(lora, back, name + " → kohya")
            for m in lora.modules where m.isDoRA {
                let base = (0..<Self.shape(m).reduce(1, *)).map { Float($0 % 7) * 0.1 - 0.3 }
                var w1 = base, w2 = base
                try m.apply(toWeight: &w1, shape: Self.shape(m), strength: 0.7)
                try back.module(for: m.target)!.apply(toWeight: &w2, shape: Self.shape(m), strength: 0.7)
                #expect(w1 == w2, "\(m.target) DoRA")
            }
        }
    }

    @Test("bakeRank: LoHa/LoKr/Tucker/full approximated by SVD; exact when the rank covers ΔW")
    func bake() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for name in ["loha.safetensors", "lokr.safetensors"] {
            let lora = try LoRAFile(contentsOf: Self.lora(name))
            let out = folder.appendingPathComponent(name)
            // rank 64 ≥ min(out, in) of every layer: the SVD keeps everything, the product is ΔW.
            let report = try LoRAConversion.convert(lora, options: .init(layout: .peft, bakeRank: 64), output: out)
            #expect(report.baked.count == lora.modules.count)
            let baked = try LoRAFile(contentsOf: out)
            for m in lora.modules {
                let n = try #require(baked.module(for: m.target))
                let natural = try m.naturalDelta()
                let want = try m.deltaWeight(shape: natural.shape)
                let got = try n.deltaWeight(shape: natural.shape)
                #expect(RankFixtures.relativeError(got, want) < 1e-5, "\(name) \(m.target)")
                let info = try #require(report.baked.first { $0.module == m.target.description })
                #expect(abs(info.frobeniusRetained - 1) < 1e-6)
            }
            // rank 1: an approximation, with the retained ratio reported.
            let small = folder.appendingPathComponent("r1-" + name)
            let r1 = try LoRAConversion.convert(lora, options: .init(layout: .peft, bakeRank: 1), output: small)
            #expect(r1.baked.allSatisfy { $0.rank == 1 && $0.frobeniusRetained > 0 && $0.frobeniusRetained <= 1 })
            #expect(r1.baked.contains { $0.frobeniusRetained < 0.999 })
        }
        // Baking covers LoHa/LoKr/Tucker/full only: norm, IA³, DoRA and bias deltas are still refused.
        let lycoris = try LoRAFile(contentsOf: Self.lora("lycoris_formula.safetensors"))
        let error = Self.conversionError { () throws(RankToolsError) in
            _ = try LoRAConversion.convert(lycoris, options: .init(layout: .peft, bakeRank: 4), output: folder.appendingPathComponent("l.safetensors"))
        }
        if case .unsupportedConversion(let module, _)? = error {
            #expect(module.contains("layer_norm1") || module.contains("q_proj") || module.contains("conv1") || module.contains("time_emb_proj"))
        } else {
            Issue.record("norm / IA³ / DoRA / diff_b must still be refused: \(String(describing: error))")
        }
    }

    @Test("Tucker mid: an exactly rank-2 ΔW is baked at rank 2 with retained ratio 1")
    func bakeExactLowRank() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let lycoris = try LoRAFile(contentsOf: Self.lora("lycoris_formula.safetensors"))
        let tucker = try #require(lycoris.modules.first { $0.hasMid })
        let (factors, info) = try LoRAConversion.bakedFactors(tucker, rank: 2, dtype: nil)
        #expect(info.rank == 2 && abs(info.frobeniusRetained - 1) < 1e-5)
        guard case .floats(let up) = factors.up, case .floats(let down) = factors.down else { Issue.record("sources"); return }
        let natural = try tucker.naturalDelta()
        let want = try tucker.deltaWeight(shape: natural.shape)
        let cols = down.count / 2
        let got = try BLAS.product(m: factors.upShape[0], n: cols, k: 2, up, down)
        #expect(RankFixtures.relativeError(got, want) < 1e-5)
        #expect(factors.downShape == [2] + natural.shape.dropFirst() && factors.upShape == [natural.shape[0], 2, 1, 1])
    }

    @Test("Options and outputs are checked; the input is never overwritten")
    func checks() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let input = Self.lora("kohya_sd1.safetensors")
        let lora = try LoRAFile(contentsOf: input)
        #expect(throws: RankToolsError.self) { try LoRAConversion.convert(lora, options: .init(layout: .kohya), output: input) }
        #expect(throws: RankToolsError.self) {
            try LoRAConversion.convert(lora, options: .init(layout: .peft, bakeRank: 0), output: folder.appendingPathComponent("a.safetensors"))
        }
        let notLoRA = try LoRAFile(contentsOf: Self.lora("not_a_lora.safetensors"))
        #expect(throws: RankToolsError.self) { try LoRAConversion.convert(notLoRA, options: .init(layout: .peft), output: folder.appendingPathComponent("b.safetensors")) }
        let out = folder.appendingPathComponent("c.safetensors")
        _ = try LoRAConversion.convert(lora, options: .init(layout: .peft, dtype: .f16), output: out)
        #expect(throws: RankToolsError.self) { try LoRAConversion.convert(lora, options: .init(layout: .peft), output: out) }
        let half = try LoRAFile(contentsOf: out)
        #expect(half.modules.allSatisfy { $0.tensors[.up]?.dtype == .f16 })
        for m in lora.modules {
            #expect(half.module(for: m.target)?.scale == m.scale)
        }
    }
    @Test("diffusers verdict: converted files fuse to the originals' weights, and are what the converter writes today")
    func diffusersVerdict() throws {
        let verdictURL = Fixtures.url("verdict.json", subdirectory: "convert")
        let verdict = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: verdictURL)) as? [String: Any])
        let tolerance = try #require(verdict["tolerance"] as? Double)
        #expect(tolerance <= 1e-5)
        #expect(verdict["agree"] as? Bool == true)
        let cases = try #require(verdict["cases"] as? [[String: Any]])
        #expect(cases.count == 3)
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for c in cases {
            let name = c["name"] as? String ?? "?"
            let diff = try #require(c["max_abs_diff"] as? Double)
            #expect(diff <= tolerance, "\(name): max |Δ| \(diff)")
            #expect((c["tensors_changed_by_lora"] as? Int ?? 0) > 0, "\(name)")
            #expect(c["components_loaded_original"] as? [String] == c["components_loaded_converted"] as? [String], "\(name)")
            // The committed file is byte for byte what the converter writes now from the same input.
            let original = try #require(Bundle.module.url(forResource: "Fixtures/" + (c["original"] as! String), withExtension: nil))
            let committed = try #require(Bundle.module.url(forResource: "Fixtures/" + (c["converted"] as! String), withExtension: nil))
            // The verdict was reached on these exact bytes.
            #expect(try SafetensorsFile(contentsOf: original).computeHashes().sha256 == c["original_sha256"] as? String,
                    "\(name): the original is not the file the verdict judged; rerun Scripts/fixtures/convert_fixtures.py")
            #expect(try SafetensorsFile(contentsOf: committed).computeHashes().sha256 == c["converted_sha256"] as? String,
                    "\(name): the converted file is not the file the verdict judged; rerun Scripts/fixtures/convert_fixtures.py")
            let layout = try #require(LoRAConversion.Layout(rawValue: c["layout"] as! String))
            let fresh = folder.appendingPathComponent(name + ".safetensors")
            _ = try LoRAConversion.convert(try LoRAFile(contentsOf: original), options: .init(layout: layout), output: fresh)
            #expect(try Data(contentsOf: fresh) == Data(contentsOf: committed), "\(name): regenerate Fixtures/convert (Scripts/fixtures/convert_fixtures.py with LORA_TOOL)")
        }
    }
}
