import Foundation
import LoRAKit
import Testing
@testable import DiffusionCore

/// LoRAs at generation time against diffusers (`Scripts/fixtures/pipeline_fixtures.py`, `lora-te/`): LoRAs with
/// text-encoder and UNet layers, kohya- and PEFT-named, loaded with diffusers' `load_lora_weights` and
/// `set_adapters` with a separate weight per component, on the tiny SD1-shaped pipeline.
/// Tolerances: final latents ≤ 1e-3 · max(1, max |diffusers|); prompt conditioning ≤ 1e-4 of its largest magnitude.
@Suite("LoRAs at generation time")
struct PipelineLoRATests {
    struct Case: Decodable {
        let name: String, lora: String, scheduler: String, prompt: String
        let unet: Float, te: Float, steps: Int, cfg: Float, seed: UInt64
    }

    struct Cases: Decodable { let cases: [Case] }

    static let base = PipelineFixtureTests.base
    static var loraFolder: URL? { base?.appendingPathComponent("lora-te") }

    static func cases() throws -> [Case] {
        let folder = try #require(loraFolder, "pipeline fixtures are missing")
        return try JSONDecoder().decode(Cases.self, from: Data(contentsOf: folder.appendingPathComponent("cases.json"))).cases
    }

    static func pipeline() throws -> DiffusionPipeline {
        try DiffusionPipeline(folder: try #require(base).appendingPathComponent("sd1-tiny"))
    }

    static func reference(_ key: String) throws -> Tensor {
        let outputs = try SafetensorsFile(path: try #require(loraFolder).appendingPathComponent("outputs.safetensors").path)
        let view = try outputs.tensor(named: key)
        return try Tensor(shape: view.shape, scalars: view.floats())
    }

    static func request(_ c: Case, prompt: String? = nil) -> GenerationRequest {
        GenerationRequest(prompt: prompt ?? c.prompt, width: 32, height: 32, steps: c.steps,
                          scheduler: PipelineFixtureTests.schedulerNames[c.scheduler], guidanceScale: c.cfg, seed: c.seed)
    }

    static func lora(_ c: Case, in pipeline: DiffusionPipeline) throws -> PipelineLoRA {
        let url = try #require(loraFolder).appendingPathComponent(c.lora + ".safetensors")
        return PipelineLoRA(name: c.lora, file: try pipeline.openLoRA(at: url), unetStrength: c.unet, textEncoderStrength: c.te)
    }

    static func close(_ got: Tensor, _ want: Tensor, relative: Float) -> (ok: Bool, worst: Float) {
        guard got.shape == want.shape else { return (false, .infinity) }
        let scale = max(1, want.scalars.map(abs).max() ?? 0)
        let worst = zip(got.scalars, want.scalars).map { abs($0 - $1) }.max() ?? 0
        return (worst <= relative * scale, worst)
    }

    @Test("Text-encoder and UNet layers fused at separate strengths give diffusers' conditioning and latents",
          arguments: ["kohya_unet0_8_te0_5", "peft_unet0_6_te1_2", "kohya_te_only"])
    func fusedAgainstDiffusers(name: String) throws {
        let c = try #require(try Self.cases().first { $0.name == name })
        let pipeline = try Self.pipeline()
        let lora = try Self.lora(c, in: pipeline)
        let report = try pipeline.fuse([lora])
        #expect(report.textEncoderLayersPatched == 12, "2 layers × q, k, v, out, fc1, fc2")
        // Every UNet module is placed, even at strength 0 (it then leaves the weight as it was).
        #expect(report.unetLayersPatched == lora.file.modules.filter { $0.target.component == .unet }.count)
        #expect(report.skipped.isEmpty, "\(report.skipped)")
        let conditioning = try pipeline.promptEncoder.encode(c.prompt).conditioning.hiddenStates
        let wantEmbeds = try Self.reference("\(name).prompt_embeds")
        let embeds = Self.close(conditioning, wantEmbeds, relative: 1e-4)
        #expect(embeds.ok, "\(name) conditioning: max error \(embeds.worst)")

        var request = Self.request(c)
        request.loras = [lora]
        try pipeline.fuse([])
        let result = try pipeline.generate(request)
        #expect(result.loras == [lora])
        let latents = Self.close(result.latents, try Self.reference("\(name).latents"), relative: 1e-3)
        #expect(latents.ok, "\(name) latents: max error \(latents.worst)")
    }

    @Test("LoRAs run beside the frozen UNet weights give the fused run's latents (diffusers' reference)",
          arguments: ["kohya_unet0_8_te0_5", "peft_unet0_6_te1_2"])
    func runtimeApplication(name: String) throws {
        let c = try #require(try Self.cases().first { $0.name == name })
        let pipeline = try Self.pipeline()
        pipeline.loraApplication = .runtime
        var request = Self.request(c)
        request.loras = [try Self.lora(c, in: pipeline)]
        let result = try pipeline.generate(request)
        let report = try #require(pipeline.fusion?.report)
        let unetModules = request.loras[0].file.modules.filter { $0.target.component == .unet }.count
        #expect(report.unetLayersAtRunTime == unetModules && report.unetLayersPatched == unetModules)
        let latents = Self.close(result.latents, try Self.reference("\(name).latents"), relative: 1e-3)
        #expect(latents.ok, "\(name) run-time latents: max error \(latents.worst)")
        // Switching the mode re-applies the same set the other way.
        pipeline.loraApplication = .fused
        let fused = try pipeline.generate(request)
        #expect(pipeline.fusion?.report.unetLayersAtRunTime == 0)
        let same = Self.close(result.latents, fused.latents, relative: 1e-4)
        #expect(same.ok, "run time vs fused: max error \(same.worst)")
    }

    @Test("With LoRAs at run time, a settled UNet allocates nothing new from run to run")
    func runtimeApplicationReusesBuffers() throws {
        try KernelPaths.pinned {
            let c = try #require(try Self.cases().first { $0.name == "kohya_unet0_8_te0_5" })
            let pipeline = try Self.pipeline()
            pipeline.loraApplication = .runtime
            var request = Self.request(c)
            request.loras = [try Self.lora(c, in: pipeline)]
            _ = try pipeline.generate(request)
            _ = try pipeline.generate(request)
            #expect(try #require(pipeline.fusion?.report).unetLayersAtRunTime > 0)
            let settled = pipeline.unet.workspace.allocationCount
            _ = try pipeline.generate(request)
            #expect(pipeline.unet.workspace.allocationCount == settled, "the low-rank products give their buffers back")
        }
    }

    @Test("A <lora:NAME:TE:UNET> tag resolved through the LoRA library equals the same LoRA passed explicitly")
    func promptTag() throws {
        let c = try #require(try Self.cases().first { $0.name == "kohya_unet0_8_te0_5" })
        let library = FileManager.default.temporaryDirectory.appendingPathComponent("lorakit-tags-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: library, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: library) }
        try FileManager.default.copyItem(at: try #require(Self.loraFolder).appendingPathComponent(c.lora + ".safetensors"),
                                         to: library.appendingPathComponent("style.safetensors"))
        let pipeline = try Self.pipeline()
        pipeline.loraLibrary = LoRALibrary(folder: library, cache: .disabled)
        // A1111 order: text encoder first, then UNet.
        let tagged = try pipeline.generate(Self.request(c, prompt: c.prompt + " <lora:style:\(c.te):\(c.unet)>"))
        #expect(tagged.loras.map(\.name) == ["style"])
        #expect(tagged.loras.first?.unetStrength == c.unet && tagged.loras.first?.textEncoderStrength == c.te)
        let diffusers = Self.close(tagged.latents, try Self.reference("\(c.name).latents"), relative: 1e-3)
        #expect(diffusers.ok, "tagged run vs diffusers: max error \(diffusers.worst)")

        let fusions = pipeline.fusionCount
        _ = try pipeline.generate(Self.request(c, prompt: c.prompt + " <lora:style:\(c.te):\(c.unet)>"))
        #expect(pipeline.fusionCount == fusions, "the same set asked for again is not fused again")

        let explicitPipeline = try Self.pipeline()
        var explicit = Self.request(c)
        explicit.loras = [try Self.lora(c, in: explicitPipeline)]
        let direct = try explicitPipeline.generate(explicit)
        let same = Self.close(tagged.latents, direct.latents, relative: 1e-5)
        #expect(same.ok, "tag vs explicit: max error \(same.worst)")
    }

    @Test("A tag naming no known LoRA is a typed error naming the tag; other extra-network kinds are noted, not applied")
    func unknownTags() throws {
        let library = FileManager.default.temporaryDirectory.appendingPathComponent("lorakit-tags-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: library, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: library) }
        let pipeline = try Self.pipeline()
        pipeline.loraLibrary = LoRALibrary(folder: library, cache: .disabled)
        let request = GenerationRequest(prompt: "a horse <lora:nope:0.7>", width: 32, height: 32, steps: 2, seed: 1)
        #expect(throws: PipelineError.loraNotFound(tag: "<lora:nope:0.7>",
                                                   error: .notFound(query: "nope", folder: library.resolvingSymlinksInPath().path, suggestions: []))) {
            try pipeline.generate(request)
        }
        // Both runs on one kernel path: a test switching it between them would change the latents' last bits.
        let (noted, plain) = try KernelPaths.pinned {
            (try pipeline.generate(GenerationRequest(prompt: "a horse <hypernet:foo:1>", width: 32, height: 32, steps: 2, seed: 1)),
             try pipeline.generate(GenerationRequest(prompt: "a horse ", width: 32, height: 32, steps: 2, seed: 1)))
        }
        #expect(noted.notes.count == 1 && noted.notes[0].hasPrefix("<hypernet:foo:1> ignored"))
        #expect(noted.latents == plain.latents, "the ignored tag is removed from the prompt")
    }

    @Test("Removing the LoRAs gives back the loaded text-encoder weights bit for bit, and the loaded UNet")
    func removalRestores() throws {
        let c = try #require(try Self.cases().first { $0.name == "peft_unet0_6_te1_2" })
        let pipeline = try Self.pipeline()
        let before = Self.textEncoderValues(pipeline)
        try pipeline.setLoRAs([try Self.lora(c, in: pipeline)])
        #expect(Self.textEncoderValues(pipeline) != before)
        #expect(!pipeline.promptEncoder.stages[0].encoder.replacedParameters.isEmpty)
        try pipeline.setLoRAs([])
        #expect(pipeline.promptEncoder.stages[0].encoder.replacedParameters.isEmpty)
        #expect(Self.textEncoderValues(pipeline) == before)
        #expect(Self.textEncoderValues(try Self.pipeline()) == before, "the same values as a freshly loaded pipeline")
    }

    /// Every matrix and vector of the active text encoder(s), as float32 values.
    static func textEncoderValues(_ pipeline: DiffusionPipeline) -> [[Float]] {
        var out: [[Float]] = []
        for stage in pipeline.promptEncoder.stages {
            let w = stage.encoder.weights
            func values(_ m: WeightMatrix) -> [Float] { m.withFloat32(workspace: nil) { Array(UnsafeBufferPointer(start: $0, count: m.rows * m.columns)) } }
            out += [w.tokenEmbedding.scalars, w.positionEmbedding.scalars, w.finalLayerNormWeight.scalars, w.finalLayerNormBias.scalars]
            for l in w.layers {
                out += [values(l.qkvProj), l.qkvBias.scalars, values(l.outProj), l.outBias.scalars, values(l.fc1), l.fc1Bias.scalars,
                        values(l.fc2), l.fc2Bias.scalars, l.layerNorm1Weight.scalars, l.layerNorm1Bias.scalars,
                        l.layerNorm2Weight.scalars, l.layerNorm2Bias.scalars]
            }
        }
        return out
    }

    @Test("Embeddings a LoRA carries (kohya bundle_emb) come with it and go with it")
    func bundledEmbeddings() throws {
        let c = try #require(try Self.cases().first { $0.name == "kohya_te_only" })
        let source = try SafetensorsFile(path: try #require(Self.loraFolder).appendingPathComponent(c.lora + ".safetensors").path)
        var writer = SafetensorsWriter(metadata: source.metadata)
        for info in source.tensors { writer.add(source.tensor(info)) }
        let vectors = (0..<48).map { Float(($0 * 7) % 11) / 11 - 0.5 }
        writer.add(name: "bundle_emb.tinyconcept.string_to_param.*", shape: [2, 24], floats: vectors)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lorakit-bundle-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try writer.write(to: url)

        let pipeline = try Self.pipeline()
        let lora = PipelineLoRA(name: "bundle", file: try pipeline.openLoRA(at: url), unetStrength: 1)
        let report = try pipeline.fuse([lora])
        #expect(report.embeddings == ["tinyconcept"])
        let used = try pipeline.promptEncoder.encode("a tinyconcept horse").conditioning
        #expect(used.embeddingsUsed == ["tinyconcept"])
        // The same as a prompt encoder given the embedding and the LoRA-fused encoder directly.
        let embedding = try #require(try TextualInversionEmbedding.embedded(in: SafetensorsFile(contentsOf: url)).first)
        let direct = try PromptEncoder(tokenizers: pipeline.tokenizers, encoders: pipeline.promptEncoder.stages.map(\.encoder),
                                       embeddings: [embedding]).encode("a tinyconcept horse").conditioning
        #expect(used.hiddenStates == direct.hiddenStates)
        try pipeline.fuse([])
        #expect(try pipeline.promptEncoder.encode("a tinyconcept horse").conditioning.embeddingsUsed.isEmpty)
    }
}
