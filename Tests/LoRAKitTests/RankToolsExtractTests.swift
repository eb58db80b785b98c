import Foundation
import Testing
@testable import LoRAKit

/// `LoRAExtraction` against kohya's extract algorithm run with torch (`Scripts/fixtures/extract_fixtures.py`):
/// base = the tiny SD1 merge fixture, tuned = base + the changes in `extract/tuned_weights.safetensors`.
/// Case "a": rank 1, conv rank 1, text encoder changed; case "b": rank 4, no conv rank, text encoder changed
/// by < min_diff (skipped). Per module the reconstructed ΔW = (α/r)·up·down is compared with torch's:
/// max |Δ| ≤ 2e-5 · max |ΔW_torch|. The signed quantile clamp sees the SVD's singular-vector signs; where
/// OpenBLAS and MKL pick other signs, the module is re-checked with our SVD's signs aligned to torch's Vh
/// (≤ 2e-4 when two kept singular values are within 1% of S₀: their vectors are ill-determined and the clamp sees them).
@Suite("RankTools extract")
struct RankToolsExtractTests {
    static let tolerance: Float = 2e-5
    /// For modules whose kept singular values are within 1% of S₀ of each other.
    static let nearDegenerateTolerance: Float = 2e-4

    @Test("extract matches kohya's algorithm in torch (cases a and b)", arguments: ["a", "b"])
    func againstTorch(_ name: String) throws {
        let c = try ExtractFixtures.testCase(name)
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let tuned = try ExtractFixtures.tunedFolder(textEncoder: c.textEncoderSource, in: folder)
        let out = folder.appendingPathComponent("x.safetensors")
        let report = try LoRAExtraction.extract(base: ExtractFixtures.base, tuned: tuned, options: c.options, output: out)
        let mine = try SafetensorsFile(contentsOf: out)
        let expected = try SafetensorsFile(contentsOf: ExtractFixtures.url("expected.safetensors"))

        #expect(RankFixtures.stems(mine) == c.modules.keys.sorted())
        #expect(report.modules.count == c.modules.count)
        #expect(report.textEncodersExtracted == c.textEncoderExtracted)
        #expect(report.skippedComponents == (c.textEncoderExtracted ? [] : [.textEncoder]))
        #expect(report.baseModel == .sd1)

        let a = try ExtractionModel(ExtractFixtures.base)
        let names = LoRAExtraction.selectModules(a, includeResnets: c.options.convRank != nil)
            .map { LoRAConcatenation.kohyaName($0.target, usesSecondEncoder: false) }
        #expect(Set(names).count == names.count, "two selected modules share a kohya name")
        var worst: Float = 0, worstNearDegenerate: Float = 0, realigned = 0, compared = 0
        for (stem, module) in c.modules {
            let x = try RankFixtures.effectiveDelta(mine, stem: stem)
            #expect(x.rank == module.rank && x.alpha == Float(module.rank), "\(stem)")
            guard module.changed else {
                #expect(LoRAExtraction.maxAbs(x.delta) == 0, "\(stem): unchanged layer gives a nonzero ΔW")
                continue
            }
            let torch = try expected.tensor(named: "\(name)/\(stem)").floats()
            var err = RankFixtures.relativeError(x.delta, torch)
            if err > Self.tolerance {
                // Our SVD picked other singular-vector signs than torch's, and the signed clamp sees them:
                // give torch's unclamped factors the written file's signs, clamp them as kohya does, and
                // compare the file with that.
                let us = try expected.tensor(named: "\(name)/\(stem).us").floats()
                let vh = try expected.tensor(named: "\(name)/\(stem).vh").floats()
                let singular = try expected.tensor(named: "\(name)/\(stem).s").floats()
                let down = try mine.tensor(named: stem + ".lora_down.weight").floats()
                let aligned = try ExtractFixtures.torchProduct(us: us, vh: vh, singularValues: singular, signsOf: down,
                                                               rank: module.rank, clamp: c.options.clampQuantile)
                err = RankFixtures.relativeError(x.delta, aligned.product)
                realigned += 1
                if aligned.minGap < 0.01 {
                    // Nearly equal kept singular values: their vectors are only defined to ~ε·S₀/gap, and
                    // the clamp sees the vectors, so the two libraries' clamped products differ more.
                    worstNearDegenerate = max(worstNearDegenerate, err)
                    #expect(err <= Self.nearDegenerateTolerance, "\(stem): \(err) (gap \(aligned.minGap))")
                    continue
                }
            }
            compared += 1
            worst = max(worst, err)
            #expect(err <= Self.tolerance, "\(stem): \(err)")
        }
        #expect(compared > 100)
        print("extract case \(name): \(compared) modules within \(Self.tolerance) (worst \(worst)), \(realigned) re-checked with torch's signs, "
              + "worst near-degenerate \(worstNearDegenerate)")
    }

    @Test("metadata: kohya's minimal keys, alpha = rank, hashes")
    func metadata() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let tuned = try ExtractFixtures.tunedFolder(textEncoder: "text_encoder", in: folder)
        let out = folder.appendingPathComponent("x.safetensors")
        _ = try LoRAExtraction.extract(base: ExtractFixtures.base, tuned: tuned, options: .init(rank: 8, convRank: 2), output: out)
        let file = try SafetensorsFile(contentsOf: out)
        let meta = file.metadata ?? [:]
        #expect(meta["ss_network_dim"] == "8" && meta["ss_network_alpha"] == "8.0")
        #expect(meta["ss_network_args"] == "{\"conv_dim\": \"2\", \"conv_alpha\": \"2.0\"}")
        #expect(meta["ss_network_module"] == "networks.lora" && meta["ss_base_model_version"] == "sd_v1" && meta["ss_v2"] == "False")
        #expect(meta["sshs_model_hash"] == file.computeHashes().sshsModelHash)
        let lora = try LoRAFile(contentsOf: out)
        #expect(lora.baseModel.detected == .sd1)
        #expect(lora.modules.allSatisfy { $0.scale == 1 })
    }

    @Test("a single-file checkpoint gives the same LoRA as the folder (and mixed inputs too)")
    func checkpointInput() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let tuned = try ExtractFixtures.tunedFolder(textEncoder: "text_encoder", in: folder)
        let baseFile = folder.appendingPathComponent("base.safetensors"), tunedFile = folder.appendingPathComponent("tuned.safetensors")
        try CheckpointBuilder.build(model: "sd1", folder: ExtractFixtures.base, to: baseFile)
        try CheckpointBuilder.build(model: "sd1", folder: tuned, to: tunedFile)
        let options = LoRAExtraction.Options(rank: 2, convRank: 1)
        let fromFolders = folder.appendingPathComponent("f.safetensors"), fromFiles = folder.appendingPathComponent("c.safetensors")
        let mixed = folder.appendingPathComponent("m.safetensors")
        let r1 = try LoRAExtraction.extract(base: ExtractFixtures.base, tuned: tuned, options: options, output: fromFolders)
        let r2 = try LoRAExtraction.extract(base: baseFile, tuned: tunedFile, options: options, output: fromFiles)
        _ = try LoRAExtraction.extract(base: baseFile, tuned: tuned, options: options, output: mixed)
        #expect(r1.modules.map(\.name) == r2.modules.map(\.name))
        #expect(r2.textEncodersExtracted && r2.baseModel == .sd1)
        let x = try SafetensorsFile(contentsOf: fromFolders)
        for other in [fromFiles, mixed] {
            let y = try SafetensorsFile(contentsOf: other)
            #expect(x.names.sorted() == y.names.sorted())
            for name in x.names { #expect(try x.tensor(named: name).floats() == y.tensor(named: name).floats(), "\(name)") }
        }
    }

    @Test("identical models: text encoder skipped and reported, every UNet ΔW zero")
    func identicalModels() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("x.safetensors")
        let report = try LoRAExtraction.extract(base: ExtractFixtures.base, tuned: ExtractFixtures.base, options: .init(), output: out)
        #expect(!report.textEncodersExtracted && report.skippedComponents == [.textEncoder] && report.textEncoderMaxDifference == 0)
        #expect(report.modules.allSatisfy { $0.name.hasPrefix("lora_unet_") && $0.maxAbsDifference == 0 })
    }

    @Test("errors are typed; nothing at the output; inputs unchanged")
    func errors() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let tuned = try ExtractFixtures.tunedFolder(textEncoder: "text_encoder", in: folder)
        let out = folder.appendingPathComponent("x.safetensors")
        let inputs = [ExtractFixtures.base.appendingPathComponent("unet/diffusion_pytorch_model.safetensors"),
                      tuned.appendingPathComponent("unet/diffusion_pytorch_model.safetensors")]
        let before = try inputs.map { try Data(contentsOf: $0) }
        func fails(_ base: URL, _ tuned: URL, _ options: LoRAExtraction.Options = .init(), output: URL? = nil,
                   _ check: (RankToolsError) -> Bool) {
            do {
                _ = try LoRAExtraction.extract(base: base, tuned: tuned, options: options, output: output ?? out)
                Issue.record("expected a failure")
            } catch {
                #expect(check(error), "\(error)")
            }
            #expect(!FileManager.default.fileExists(atPath: out.path))
        }
        fails(ExtractFixtures.base, MergeFixtures.url("sd2")) { if case .modelMismatch(let p, _) = $0 { p == "model family" } else { false } }
        fails(ExtractFixtures.base, folder.appendingPathComponent("missing")) {
            $0 == .model(.notFound(path: folder.appendingPathComponent("missing").path))
        }
        fails(ExtractFixtures.base, tuned, .init(rank: 0)) { if case .invalidOption = $0 { true } else { false } }
        fails(ExtractFixtures.base, tuned, .init(clampQuantile: 1.5)) { if case .invalidOption = $0 { true } else { false } }
        fails(ExtractFixtures.base, tuned, output: inputs[1]) { if case .invalidOutput = $0 { true } else { false } }

        // A tuned UNet whose layer has another shape.
        let reshaped = folder.appendingPathComponent("reshaped")
        try FileManager.default.copyItem(at: tuned, to: reshaped)
        let unetURL = reshaped.appendingPathComponent("unet/diffusion_pytorch_model.safetensors")
        let unet = try SafetensorsFile(contentsOf: unetURL)
        var writer = SafetensorsWriter(metadata: unet.metadata)
        let odd = "down_blocks.0.attentions.0.transformer_blocks.0.ff.net.2.weight"
        for info in unet.tensors {
            if info.name == odd {
                writer.add(name: odd, shape: [info.shape[1], info.shape[0]], floats: unet.tensor(info).floats(), as: .f32)
            } else {
                writer.add(name: info.name, shape: info.shape, floats: unet.tensor(info).floats(), as: info.dtype)
            }
        }
        try writer.write(to: unetURL, overwrite: true)
        fails(ExtractFixtures.base, reshaped) { if case .modelMismatch(let p, _) = $0 { p.contains("ff.net.2") } else { false } }

        // An existing output is kept without overwrite.
        try Data("keep".utf8).write(to: out)
        do {
            _ = try LoRAExtraction.extract(base: ExtractFixtures.base, tuned: tuned, options: .init(), output: out)
            Issue.record("expected a failure")
        } catch {
            if case .safetensors(.outputExists(path: out.path)) = error {} else { Issue.record("\(error)") }
        }
        #expect(try Data(contentsOf: out) == Data("keep".utf8))
        _ = try LoRAExtraction.extract(base: ExtractFixtures.base, tuned: tuned, options: .init(overwrite: true), output: out)
        #expect(try inputs.map { try Data(contentsOf: $0) } == before)
    }
}

/// The extract fixtures: cases, the tuned model rebuilt from the stored changes, sign-aligned reference products.
enum ExtractFixtures {
    struct Module { var rank: Int; var changed: Bool }
    struct Case {
        var options: LoRAExtraction.Options
        var textEncoderSource: String
        var textEncoderExtracted: Bool
        var modules: [String: Module]
    }

    static var base: URL { MergeFixtures.url("sd1") }
    static func url(_ name: String) -> URL { Fixtures.url(name, subdirectory: "extract") }

    static func testCase(_ name: String) throws -> Case {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url("cases.json"))) as! [String: Any]
        let c = try #require(json[name] as? [String: Any])
        let modules = try #require(c["modules"] as? [String: [String: Any]])
        let options = LoRAExtraction.Options(rank: c["rank"] as! Int, convRank: c["conv_rank"] as? Int,
                                             clampQuantile: Float(c["clamp_quantile"] as! Double),
                                             minDiff: Float(c["min_diff"] as! Double))
        return Case(options: options, textEncoderSource: c["text_encoder_source"] as! String,
                    textEncoderExtracted: c["text_encoder_extracted"] as! Bool,
                    modules: modules.mapValues { Module(rank: $0["rank"] as! Int, changed: $0["changed"] as! Bool) })
    }

    /// A copy of the base folder with the stored changes applied (`unet/…` and `<textEncoder>/…` keys).
    static func tunedFolder(textEncoder: String, in folder: URL) throws -> URL {
        let tuned = folder.appendingPathComponent("tuned")
        try FileManager.default.copyItem(at: base, to: tuned)
        let changes = try SafetensorsFile(contentsOf: url("tuned_weights.safetensors"))
        for (prefix, path) in [("unet", "unet/diffusion_pytorch_model.safetensors"), (textEncoder, "text_encoder/model.safetensors")] {
            let file = tuned.appendingPathComponent(path)
            let original = try SafetensorsFile(contentsOf: file)
            var writer = SafetensorsWriter(metadata: original.metadata)
            for info in original.tensors {
                if let changed = changes.info(named: "\(prefix)/\(info.name)") {
                    writer.add(name: info.name, shape: info.shape, floats: changes.tensor(changed).floats(), as: info.dtype)
                } else {
                    writer.add(name: info.name, shape: info.shape, floats: original.tensor(info).floats(), as: info.dtype)
                }
            }
            try writer.write(to: file, overwrite: true)
        }
        return tuned
    }

    /// kohya's clamped product from torch's unclamped factors (`us` = U·diag(S), rows × rank; `vh`, rank × columns),
    /// each singular triplet's sign set to that of the written file's down row; and the smallest gap between
    /// a kept singular value and the next one, relative to S₀.
    static func torchProduct(us: [Float], vh: [Float], singularValues s: [Float], signsOf fileDown: [Float],
                             rank: Int, clamp: Float?) throws -> (product: [Float], minGap: Float) {
        let columns = vh.count / rank, rows = us.count / rank
        try #require(fileDown.count == vh.count && rows * rank == us.count, "factor sizes differ from torch's")
        var up = us, down = vh
        for k in 0..<rank {
            var dot: Float = 0
            for j in 0..<columns { dot += fileDown[k * columns + j] * vh[k * columns + j] }
            if dot < 0 {
                for j in 0..<columns { down[k * columns + j] = -down[k * columns + j] }
                for i in 0..<rows { up[i * rank + k] = -up[i * rank + k] }
            }
        }
        if let clamp { QuantileClamp.apply(up: &up, down: &down, quantile: clamp) }
        var gap = Float.infinity
        for i in 0..<min(rank, s.count - 1) { gap = min(gap, (s[i] - s[i + 1]) / max(s[0], .leastNormalMagnitude)) }
        return (try BLAS.product(m: rows, n: columns, k: rank, up, down), gap)
    }
}
