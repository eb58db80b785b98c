import CDiffusionKernels
import Foundation
import LoRAKit
import Testing
@testable import DiffusionCore

/// LoRAs fused into a half-precision model (`Scripts/fixtures/fused_half_fixtures.py`, `fused-half/`): the tiny
/// fp16 SD1-shaped pipeline of `single-file/sd1-tiny` with a kohya LoRA + LoCon (float32 factors) fused by
/// diffusers' `fuse_lora(lora_scale=0.35)` into the fp16 UNet (PEFT: factors in float16, `s·U·D` in float32,
/// rounded to float16, added in float16).
/// Tolerances: fused weights equal diffusers' bit for bit but for at most 1 in 1000 elements, each at most one
/// float16 step away (the float32 products of U·D are summed in another order); final latents ≤ 1e-3 ·
/// max(1, max |diffusers|), as the other pipeline fixtures.
@Suite("LoRAs fused into half-precision weights")
struct FusedHalfPrecisionTests {
    static let base: URL? = Bundle.module.url(forResource: "fused-half", withExtension: nil, subdirectory: "Fixtures")
    static let model: URL? = SingleFileLoadingTests.base?.appendingPathComponent("sd1-tiny")

    struct Case: Decodable { let prompt: String, steps: Int, cfg: Float, seed: UInt64, width: Int, height: Int, scale: Float }
    struct Cases: Decodable { let `case`: Case, patched: Int }

    static func cases() throws -> Cases {
        let folder = try #require(base, "fused-half fixtures are missing")
        return try JSONDecoder().decode(Cases.self, from: Data(contentsOf: folder.appendingPathComponent("cases.json")))
    }

    static func pipeline() throws -> DiffusionPipeline { try DiffusionPipeline(folder: try #require(model)) }

    static func lora(_ pipeline: DiffusionPipeline, strength: Float) throws -> PipelineLoRA {
        let url = try #require(base).appendingPathComponent("tiny-fp16-lora.safetensors")
        return PipelineLoRA(name: "tiny", file: try pipeline.openLoRA(at: url), unetStrength: strength)
    }

    static func outputs() throws -> SafetensorsFile {
        try SafetensorsFile(path: try #require(base).appendingPathComponent("outputs.safetensors").path)
    }

    static func request(_ c: Case) -> GenerationRequest {
        GenerationRequest(prompt: c.prompt, width: c.width, height: c.height, steps: c.steps, scheduler: "lcm",
                          guidanceScale: c.cfg, seed: c.seed)
    }

    static func worst(_ a: Tensor, _ b: Tensor) -> (error: Float, scale: Float) {
        guard a.shape == b.shape else { return (.infinity, 1) }
        let scale = max(1, b.scalars.map(abs).max() ?? 0)
        return (zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0, scale)
    }

    /// Every `fused.NAME` float16 tensor of `outputs` against the fused parameter NAME: each fused in half
    /// precision, and at most 1 element in 1000 one float16 step away from PEFT's (none further).
    static func expectFusedHalfEqual(_ fused: [String: FusedParameter], _ outputs: SafetensorsFile) throws {
        var compared = 0, differing = 0, farthest = 0
        for info in outputs.tensors where info.name.hasPrefix("fused.") {
            let name = String(info.name.dropFirst("fused.".count))
            let parameter = try #require(fused[name], "\(name) was not fused")
            guard case let .half(buffer, shape) = parameter.values else {
                Issue.record("\(name) was fused in float32, not in the file's float16")
                continue
            }
            #expect(buffer.element == .float16 && shape == info.shape)
            let want = outputs.tensor(info)
            #expect(want.dtype == .f16)
            want.withUnsafeBytes { raw in
                for i in 0..<Swift.min(buffer.count, raw.count / 2) {
                    let w = raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self), g = buffer.base[i]
                    if w != g { differing += 1; farthest = Swift.max(farthest, halfSteps(w, g)) }
                }
            }
            compared += buffer.count
        }
        #expect(compared > 0)
        #expect(farthest <= 1 && differing * 1000 <= compared, "\(differing) of \(compared) elements differ, by up to \(farthest) steps")
    }

    /// The float16 steps between two finite half-precision values of the same sign region.
    static func halfSteps(_ a: UInt16, _ b: UInt16) -> Int {
        func ordered(_ h: UInt16) -> Int { h & 0x8000 != 0 ? -Int(h & 0x7FFF) : Int(h) }
        return abs(ordered(a) - ordered(b))
    }

    @Test("Fused fp16 weights equal diffusers' fuse_lora into an fp16 UNet, stored half size")
    func weightsMatchDiffusers() throws {
        let cases = try Self.cases()
        let pipeline = try Self.pipeline()
        let report = try pipeline.fuse([try Self.lora(pipeline, strength: cases.case.scale)])
        #expect(report.unetLayersPatched == cases.patched && report.unetLayersAtRunTime == 0)
        let fused = try #require(pipeline.fusion?.unetParameters)
        let outputs = try Self.outputs()
        try Self.expectFusedHalfEqual(fused, outputs)
    }

    @Test("Generating with the LoRA fused in fp16 gives diffusers' latents (fused fp16 weights, float32 compute)")
    func latentsMatchDiffusers() throws {
        let cases = try Self.cases()
        let pipeline = try Self.pipeline()
        pipeline.loraApplication = .fused
        var request = Self.request(cases.case)
        request.loras = [try Self.lora(pipeline, strength: cases.case.scale)]
        let result = try pipeline.generate(request)
        let view = try Self.outputs().tensor(named: "latents")
        let (error, scale) = Self.worst(result.latents, try Tensor(shape: view.shape, scalars: view.floats()))
        #expect(error <= 1e-3 * scale, "latents: max error \(error) (scale \(scale))")

        // Applied at run time, the LoRA is not rounded to float16: the same picture within the half-precision
        // rounding of the fused weights.
        pipeline.loraApplication = .runtime
        let runtime = try pipeline.generate(request)
        #expect(pipeline.fusion?.report.unetLayersAtRunTime == cases.patched)
        let (gap, runtimeScale) = Self.worst(runtime.latents, result.latents)
        #expect(gap <= 1e-3 * runtimeScale, "run time vs fused fp16: max error \(gap) (scale \(runtimeScale))")
    }

    @Test("Removing the LoRA gives back the mapped fp16 weights; a changed set re-fuses only the layers it changes")
    func switchingSets() throws {
        let cases = try Self.cases()
        let pipeline = try Self.pipeline()
        let c = cases.case
        let plain = try pipeline.generate(Self.request(c))
        let lora = try Self.lora(pipeline, strength: c.scale)

        // A second LoRA over the attention layers only: the other layers of the first are taken over as they were.
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lorakit-fused-half-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        let source = lora.file.file
        var writer = SafetensorsWriter(metadata: source.metadata)
        for info in source.tensors where info.name.contains("_attn") { writer.add(source.tensor(info)) }
        try writer.write(to: url)
        let second = PipelineLoRA(name: "attention", file: try pipeline.openLoRA(at: url), unetStrength: 0.5)
        let attentionLayers = second.file.modules.count
        #expect(attentionLayers > 0 && attentionLayers < cases.patched)

        try pipeline.fuse([lora])
        let first = try #require(pipeline.fusion?.unetParameters)
        let report = try pipeline.fuse([lora, second])
        #expect(report.unetParametersReused == cases.patched - attentionLayers)
        let both = try #require(pipeline.fusion?.unetParameters)
        for (name, parameter) in both where parameter.steps.count == 1 {
            guard case let .half(now, _) = parameter.values, case let .half(before, _)? = first[name]?.values else {
                Issue.record("\(name) is not half precision")
                continue
            }
            #expect(now === before, "\(name) was computed again")
        }
        // The same values as fusing both into a freshly loaded pipeline.
        let fresh = try Self.pipeline()
        try fresh.fuse([try Self.lora(fresh, strength: c.scale),
                        PipelineLoRA(name: "attention", file: try fresh.openLoRA(at: url), unetStrength: 0.5)])
        let freshValues = try #require(fresh.fusion?.unetParameters)
        #expect(Set(freshValues.keys) == Set(both.keys))
        for (name, parameter) in both {
            #expect(parameter.values.floats() == freshValues[name]?.values.floats(), "\(name)")
        }
        // A new strength changes every layer of the LoRA.
        #expect(try pipeline.fuse([try Self.lora(pipeline, strength: 0.8)]).unetParametersReused == 0)

        // No LoRA: the mapped weights, as loaded.
        try pipeline.fuse([])
        #expect(pipeline.fusion?.unetParameters.isEmpty == true)
        let removed = try pipeline.generate(Self.request(c))
        let (error, scale) = Self.worst(removed.latents, plain.latents)
        #expect(error <= 1e-5 * scale, "after removal: max error \(error)")
    }

    @Test("A bf16 UNet gets bf16 fused layers through the same kernels; run time gives the same latents within bf16 rounding")
    func bfloat16Model() throws {
        let cases = try Self.cases()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lorakit-bf16-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.copyItem(at: try #require(Self.model), to: folder)
        let unetFile = folder.appendingPathComponent("unet/diffusion_pytorch_model.fp16.safetensors")
        let converted = folder.appendingPathComponent("unet/bf16.tmp")
        do {
            let stored = try SafetensorsFile(path: unetFile.path)
            var writer = SafetensorsWriter(metadata: stored.metadata)
            for info in stored.tensors {
                let view = stored.tensor(info)
                if view.dtype == .f16 { writer.add(name: info.name, shape: info.shape, floats: view.floats(), as: .bf16) } else { writer.add(view) }
            }
            try writer.write(to: converted)
        }
        try FileManager.default.removeItem(at: unetFile)
        try FileManager.default.moveItem(at: converted, to: unetFile)

        let pipeline = try DiffusionPipeline(folder: folder)
        var request = Self.request(cases.case)
        request.loras = [try Self.lora(pipeline, strength: cases.case.scale)]
        pipeline.loraApplication = .fused
        let fused = try pipeline.generate(request)
        let parameters = try #require(pipeline.fusion?.unetParameters)
        #expect(parameters.count == cases.patched)
        for (name, parameter) in parameters {
            guard case let .half(buffer, _) = parameter.values else { Issue.record("\(name) is not half precision"); continue }
            #expect(buffer.element == .bfloat16, "\(name)")
        }
        pipeline.loraApplication = .runtime
        let runtime = try pipeline.generate(request)
        let (gap, scale) = Self.worst(runtime.latents, fused.latents)
        #expect(gap > 0 && gap <= 1e-2 * scale, "run time vs fused bf16: max error \(gap) (scale \(scale))")
    }

    @Test("float → float16 / bfloat16 rounding and the rounded half-precision add, on every kernel path")
    func halfKernels() throws {
        var values: [Float] = [0, -0, 1, -1, 0.1, 65504, 65519.99, 65520, -65520, 1e-8, 2.98e-8, 5.96e-8, 6.1e-5, 3e-5,
                               .infinity, -.infinity, .nan, 1 + 0x1p-11, 1 + 3 * 0x1p-11, 1 + 0x1p-8, 1 + 3 * 0x1p-8,
                               3.3895314e38, .greatestFiniteMagnitude, .leastNonzeroMagnitude]
        var state: UInt32 = 12345
        func next() -> UInt32 { state = state &* 1_664_525 &+ 1_013_904_223; return state }
        for _ in 0..<997 {  // signs, 23-bit mantissas, exponents from float16's subnormals to past its largest value
            let significand = 1 + Float(next() >> 9) * 0x1p-23, exponent = Int(next() % 48) - 30
            values.append((next() & 0x8000 == 0 ? 1 : -1) * Float(sign: .plus, exponent: exponent, significand: significand))
        }
        let n = values.count
        func f16(_ x: Float) -> UInt16 { x.isNaN ? 0x7E00 | UInt16((x.bitPattern >> 16) & 0x8000) : Float16(x).bitPattern }
        func bf16(_ x: Float) -> UInt16 {
            if x.isNaN { return 0x7FC0 }
            let u = x.bitPattern
            return UInt16(truncatingIfNeeded: (u &+ 0x7FFF &+ ((u >> 16) & 1)) >> 16)
        }
        func widenBF16(_ h: UInt16) -> Float { Float(bitPattern: UInt32(h) << 16) }
        let bases = values.map { f16($0 * 0.5) }, basesBF = values.map { bf16($0 * 0.5) }
        KernelPaths.forEach(levels: ConvKernelLevels.all) { level in
            var out = [UInt16](repeating: 0, count: n)
            dk_f32_to_f16(values, &out, n)
            for i in 0..<n where !(values[i].isNaN && out[i] & 0x7E00 == 0x7E00) {
                #expect(out[i] == f16(values[i]), "f16(\(values[i])) at \(level)")
            }
            dk_f32_to_bf16(values, &out, n)
            for i in 0..<n { #expect(out[i] == bf16(values[i]), "bf16(\(values[i])) at \(level)") }
            dk_half_add_rounded(bases, values, &out, n, 0)
            for i in 0..<n where !values[i].isNaN && values[i].isFinite {
                let want = f16(Float(Float16(bitPattern: bases[i])) + Float(Float16(bitPattern: f16(values[i]))))
                #expect(out[i] == want, "f16 add at \(level)")
            }
            dk_half_add_rounded(basesBF, values, &out, n, 1)
            for i in 0..<n where !values[i].isNaN && values[i].isFinite {
                #expect(out[i] == bf16(widenBF16(basesBF[i]) + widenBF16(bf16(values[i]))), "bf16 add at \(level)")
            }
        }
    }
}
