import ArgumentParser
import DiffusionCore
import Foundation
import LoRAKit

/// `lora-tool generate`: an image from a prompt with a diffusers model folder, as diffusers' pipelines make it.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate images from a prompt with a Stable Diffusion model, a diffusers folder or a single file (txt2img, img2img, inpainting).",
        discussion: """
        The same seed gives the same starting noise as diffusers, InvokeAI and ComfyUI on the CPU (torch's \
        generator). --lcm applies the LCM recipe: LCM scheduler, 4 steps, CFG 1. --clip-skip uses A1111's \
        numbering (1 = the last layer, 2 = the one before). PNGs carry A1111 "parameters" and InvokeAI metadata.
        """)

    @Option(help: "A diffusers model folder (model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/) or a single-file SD 1.x / SD 2.x / SDXL checkpoint (.safetensors).")
    var model: String

    @Option(help: "The prompt (A1111 syntax: (emphasis:1.2), [less], BREAK, <lora:NAME:W> tags).")
    var prompt: String

    @Option(help: "The negative prompt.")
    var negative: String = ""

    @Flag(help: "The LCM recipe: LCM scheduler, 4 steps, CFG 1 (each may still be given); LoRAs without a strength (--lora or <lora:NAME> tags) get 0.35 if their name or recorded title says LCM, else 0.45.")
    var lcm = false

    @Option(name: .customLong("lora"), help: "A LoRA applied for this run (see --lora-mode): FILE or library NAME, then [:STRENGTH] or :unet=X,te=Y. Repeatable.")
    var loraArguments: [String] = []

    @Option(name: .customLong("lora-mode"), help: "fused: LoRAs fused into the UNet weights; runtime: applied beside them at every step; auto (default): runtime for short runs (fewer than \(LoRAApplication.automaticRuntimeLimit) UNet evaluations: steps × batch × 2 with CFG), else fused.")
    var loraMode: LoRAMode = .auto

    enum LoRAMode: String, ExpressibleByArgument, CaseIterable { case auto, fused, runtime }

    @Option(name: .customLong("lora-dir"), help: "The LoRA library folder where --lora names are looked up (default: $LORAKIT_HOME/loras, else ~/.lorakit/loras).")
    var loraDir: String?

    @Option(help: "Scheduler (A1111: sampler): InvokeAI id (euler_a, dpmpp_2m_k, lcm), A1111 label, ComfyUI name or diffusers class; `lora-tool schedulers` lists them. Default: the model's own.")
    var scheduler: String?

    @Option(parsing: .unconditional, help: "Denoising steps (default 25; 4 with --lcm).")
    var steps: Int?

    @Option(parsing: .unconditional, help: "Classifier-free guidance scale, A1111's CFG scale (default 7.5; 1 with --lcm).")
    var cfg: Double?

    @Option(name: .customLong("seed"), parsing: .unconditional, help: "Seed of torch's CPU generator, 0…18446744073709551615; -1 or random: a random seed, printed with the result (A1111's -1).")
    var seedArgument: SeedArgument = SeedArgument(value: 0)

    /// `--seed`: a whole number, or `-1` / `random` for a random seed drawn as A1111 draws it (below 2³² − 2).
    struct SeedArgument: ExpressibleByArgument {
        var value: UInt64?

        init(value: UInt64?) { self.value = value }

        init?(argument: String) {
            if argument == "-1" || argument.lowercased() == "random" { value = nil; return }
            guard let v = UInt64(argument) else { return nil }
            value = v
        }

        var defaultValueDescription: String { value.map(String.init) ?? "random" }

        func resolved() -> UInt64 { value ?? UInt64.random(in: 0..<4_294_967_294) }
    }

    @Option(parsing: .unconditional, help: "Width in pixels, a multiple of 8 (default: the init image's, else the model's size).")
    var width: Int?

    @Option(parsing: .unconditional, help: "Height in pixels, a multiple of 8 (default: the init image's, else the model's size).")
    var height: Int?

    @Option(parsing: .unconditional, help: "Images per prompt.")
    var batch: Int = 1

    @Option(name: .customLong("clip-skip"), parsing: .unconditional, help: "A1111 clip skip: 1 = none, 2 = the penultimate layer.")
    var clipSkip: Int?

    @Option(parsing: .unconditional, help: "Threads each op runs on (default: all cores). Set LORAKIT_PIN_THREADS=0 to leave thread placement to the system when several runs share a machine.")
    var threads: Int?

    @Option(name: [.short, .long], help: "The output PNG, named .png (with --batch N: NAME-1.png … NAME-N.png). Its folder must exist.")
    var output: String

    @OptionGroup var images: GenerateImageOptions

    @OptionGroup var decoding: GenerateDecodingOptions

    @OptionGroup var loading: GenerateModelOptions

    @OptionGroup var flags: OutputFlags

    func validate() throws {
        try validateOutputPath(output)
        try validatePNGName(output, option: "--output")
        try decoding.validate()
        if let steps, steps < 1 || steps > 1000 { throw ValidationError("--steps must be in 1…1000, got \(steps)") }
        if let cfg, !cfg.isFinite || cfg < 0 { throw ValidationError("--cfg must be a finite number ≥ 0") }
        if let clipSkip, clipSkip < 1 { throw ValidationError("--clip-skip must be at least 1 (1 = no skip)") }
        if !(1...64).contains(batch) { throw ValidationError("--batch must be in 1…64") }
        try validatePositive(threads, "--threads")
        if let scheduler { do { _ = try SchedulerRegistry.preset(named: scheduler) } catch { throw ValidationError("\(error)") } }
        for argument in loraArguments {
            do { _ = try LoRASpec(parsing: argument) } catch { throw ValidationError(error.description) }
        }
    }

    /// The `--lora` values as pipeline LoRAs: a strength in --lora wins, then the A1111 sidecar's preferred
    /// weight, then the LCM recipe's 0.35 (LCM-LoRAs) / 0.45 (the others) with --lcm, else 1.
    func pipelineLoRAs() throws -> [PipelineLoRA] {
        var loras: [PipelineLoRA] = []
        for argument in loraArguments {
            let spec = try LoRASpec(parsing: argument)
            let reference = try resolveLoRA(spec.path, loraDir: loraDir)
            let file: LoRAFile
            do { file = try LoRAFile(contentsOf: reference.url) } catch {
                printError("\(spec.path): \(error)", error)
                throw badInputExitCode
            }
            if let reason = file.notALoRAReason {
                printError("\(spec.path): not a LoRA: \(reason)")
                throw badInputExitCode
            }
            let name = reference.name
            let recipe = (lcm ? LoRAStrengthRecipe.lcm : .standard).strength(forLoRANamed: name, file: file)
            let preferred = spec.givesStrength ? nil : reference.preferredWeight
            let all = spec.strength ?? preferred ?? recipe
            loras.append(PipelineLoRA(name: name, file: file, unetStrength: spec.unetStrength ?? all,
                                      textEncoderStrength: spec.textEncoderStrength ?? all))
        }
        return loras
    }

    func outputURLs() -> [URL] {
        let url = URL(fileURLWithPath: output)
        guard batch > 1 else { return [url] }
        let stem = url.deletingPathExtension().lastPathComponent
        let ext = url.pathExtension.isEmpty ? "png" : url.pathExtension
        return (1...batch).map { url.deletingLastPathComponent().appendingPathComponent("\(stem)-\($0).\(ext)") }
    }

    /// The files the `<lora:…>` / `<lyco:…>` tags of `prompts` resolve to, as the pipeline resolves them (through
    /// the same library). A tag that does not parse or resolve is left to the run, which refuses it before any
    /// step with the typed error naming the tag.
    static func promptTagLoRAFiles(_ prompts: [String], loraDir: String?) -> [URL] {
        let library = LoRALibrary(folder: loraDir.map { URL(fileURLWithPath: $0) })
        return prompts.flatMap { text -> [URL] in
            guard let tags = try? PromptLoRATags.parse(text) else { return [] }
            return tags.loras.compactMap { try? library.resolve($0.name).url }
        }
    }

    /// Why a PNG cannot be written at `url`, found before the run rather than after it: its folder is missing, or
    /// something other than a regular file (a folder, a device, a pipe) is there.
    static func unwritable(_ url: URL) -> String? {
        let folder = url.deletingLastPathComponent()
        if !OutputPath.isFolder(folder) { return "the folder \(folder.path) does not exist" }
        if access(folder.path, W_OK) != 0 { return "the folder \(folder.path) is not writable (\(String(cString: strerror(errno))))" }
        if let reason = OutputPath.irreplaceable(url) { return "\(reason); only a regular file is ever replaced" }
        return nil
    }

    func run() throws {
        if let threads { RuntimeThreads.count = threads }
        let seed = seedArgument.resolved()
        let urls = outputURLs()
        let previewURLs = decoding.previewURLs(batch: batch)
        if let clash = previewURLs.first(where: urls.contains) {
            printError("\(clash.path): --preview and --output name the same file")
            throw badInputExitCode
        }
        // No output may be an input (the init image, a LoRA given by --lora or named by a prompt tag, the model
        // folder or a file in it), even with --force.
        let loraFiles = try loraArguments.map { try resolveLoRA(try LoRASpec(parsing: $0).path, loraDir: loraDir).url }
            + Self.promptTagLoRAFiles([prompt, negative], loraDir: loraDir)
        let inputs = [URL(fileURLWithPath: model)] + images.inputs
            + (decoding.taesd.map { [URL(fileURLWithPath: $0)] } ?? []) + loading.inputs + loraFiles
        for url in urls + previewURLs {
            if let reason = OutputPath.conflict(output: url, inputs: inputs) ?? Self.unwritable(url) {
                printError("\(url.path): \(reason)")
                throw badInputExitCode
            }
        }
        if !flags.force, let existing = (urls + previewURLs).first(where: { FileManager.default.fileExists(atPath: $0.path) }) {
            printError("\(existing.path) exists; pass --force to replace it")
            throw badInputExitCode
        }
        let pipeline: DiffusionPipeline
        do { pipeline = try DiffusionPipeline(contentsOf: URL(fileURLWithPath: model), options: loading.loadOptions) } catch {
            printError("\(error)", error)
            throw badInputExitCode
        }
        try decoding.load(into: pipeline)
        // Prompt tags are looked up where --lora names are.
        pipeline.loraLibrary = LoRALibrary(folder: loraDir.map { URL(fileURLWithPath: $0) })
        var request = GenerationRequest(prompt: prompt, negativePrompt: negative, width: width, height: height,
                                        steps: steps ?? (lcm ? 4 : 25), scheduler: scheduler ?? (lcm ? "lcm" : nil),
                                        guidanceScale: Float(cfg ?? (lcm ? 1 : 7.5)), seed: seed, batchSize: batch,
                                        clipSkip: clipSkip.map { $0 - 1 })
        decoding.configure(&request)
        if lcm { request.loraRecipe = .lcm }
        request.loras = try pipelineLoRAs()
        try images.configure(&request, width: width, height: height)
        switch loraMode {
        case .fused: pipeline.loraApplication = .fused
        case .runtime: pipeline.loraApplication = .runtime
        case .auto:
            let guided = request.guidanceScale > 1 && pipeline.unet.configuration.timeCondProjDim == nil
            pipeline.loraApplication = .automatic(unetEvaluations: request.steps * request.batchSize * (guided ? 2 : 1))
        }
        let progress = GenerationProgress(previewURLs: previewURLs)
        let result: GenerationResult
        do {
            result = try pipeline.generate(request, onEvent: progress.report)
        } catch {
            progress.finish()
            printError("\(error)", error)
            throw badInputExitCode
        }
        progress.finish()
        for note in result.notes { writeStandardError("note: \(note)\n") }
        let size = (result.images.shape[3], result.images.shape[2])
        let sampler = scheduler ?? (lcm ? "lcm" : pipeline.schedulerConfig.className ?? "")
        let preset = try? SchedulerRegistry.preset(named: sampler)
        // Every LoRA once, from --lora and from prompt tags, with the hashes A1111 and InvokeAI identify it by.
        let loraMetadata = GenerationMetadata.loras(of: result)
        for (index, image) in result.rgbImages.enumerated() {
            let metadata = GenerationMetadata(
                prompt: prompt, negativePrompt: negative, steps: request.steps,
                sampler: preset?.a1111.first ?? sampler, invokeScheduler: preset?.id, cfgScale: Double(request.guidanceScale),
                seed: seed, width: size.0, height: size.1, modelName: URL(fileURLWithPath: model).lastPathComponent,
                base: pipeline.isSDXL ? .sdxl : (pipeline.baseModel == .sd2 ? .sd2 : .sd1),
                loras: loraMetadata, clipSkip: clipSkip, strength: images.initImage == nil ? nil : request.strength,
                mode: images.mode, version: "LoRAKit")
            do { try PNGWriter.write(image, to: urls[index], metadata: metadata, overwrite: flags.force) } catch {
                printError("\(error)", error)
                throw badInputExitCode
            }
        }
        if flags.json {
            try printJSON(["outputs": urls.map(\.path), "seed": seed, "steps": request.steps, "width": size.0,
                           "height": size.1, "seconds": progress.elapsed,
                           "decoder": request.decoder == .vae ? "vae" : "taesd",
                           "loras": result.loras.map { ["name": $0.name, "unet": Double("\($0.unetStrength)") ?? 0,
                                                         "te": Double("\($0.textEncoderStrength)") ?? 0] as [String: Any] },
                           "lora_embeddings": pipeline.activeLoRAReport?.embeddings ?? [],
                           "lora_layers": ["unet": pipeline.activeLoRAReport?.unetLayersPatched ?? 0,
                                           "unet_at_run_time": pipeline.activeLoRAReport?.unetLayersAtRunTime ?? 0,
                                           "text_encoder": pipeline.activeLoRAReport?.textEncoderLayersPatched ?? 0],
                           "notes": result.notes, "model": try jsonObject(pipeline.loadReport)] as [String: Any])
        } else {
            try emit("Wrote \(urls.map(\.path).joined(separator: ", ")) (\(size.0)×\(size.1), \(request.steps) steps, seed \(seed), \(String(format: "%.1f", progress.elapsed)) s)\n")
        }
    }
}
