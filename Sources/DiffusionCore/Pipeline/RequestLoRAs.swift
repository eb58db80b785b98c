import Foundation
import LoRAKit

extension DiffusionPipeline {
    /// Fuses what `request` asks for — the pipeline's own LoRAs, the request's ``GenerationRequest/loras``, then
    /// the `<lora:…>` / `<lyco:…>` tags of its prompt and negative prompt resolved through ``loraLibrary`` —
    /// unless that set is fused already. The caller holds the pipeline's turn.
    /// - Returns: the set fused and notes for the caller (tags of other extra-network kinds, which are removed
    ///   from the prompt and not applied; patches the model has no layer for).
    func prepareLoRAs(for request: GenerationRequest) throws(PipelineError) -> (loras: [AppliedLoRA], notes: [String]) {
        var wanted = loras.map { AppliedLoRA(lora: $0, origin: .pipeline) } + request.loras.map { AppliedLoRA(lora: $0, origin: .request) }
        var notes: [String] = []
        for (text, negative) in [(request.prompt, false), (request.negativePrompt, true)] {
            let tags: PromptTags
            do { tags = try PromptLoRATags.parse(text) } catch { throw .text(error) }
            for tag in tags.ignored {
                notes.append("\(tag) ignored: only <lora:…> and <lyco:…> extra networks are applied (the tag is removed from the prompt)")
            }
            for tag in tags.loras {
                wanted.append(AppliedLoRA(lora: try lora(for: tag, recipe: request.loraRecipe),
                                          origin: negative ? .negativePromptTag(tag) : .promptTag(tag)))
            }
        }
        let report = try fuseHoldingTurn(wanted.map(\.lora))
        notes += report.skipped.map { "not applied: \($0)" }
        return (wanted, notes)
    }

    /// The LoRA a prompt tag names, resolved as `lora-tool merge` resolves names (a path, else a library name,
    /// alias or hash prefix). A tag without a weight takes the LoRA's preferred weight (A1111 sidecar), else the
    /// recipe's strength (1, or the LCM recipe's 0.35 / 0.45).
    /// - Throws: ``PipelineError/loraNotFound(tag:error:)`` naming the tag; the errors of ``openLoRA(at:)``.
    public func lora(for tag: PromptLoRARequest, recipe: LoRAStrengthRecipe = .standard) throws(PipelineError) -> PipelineLoRA {
        if tag.givesWeight {
            return try lora(named: tag.name, unetStrength: Float(tag.unetWeight), textEncoderStrength: Float(tag.textEncoderWeight),
                            tag: tag.tag)
        }
        return try lora(named: tag.name, recipe: recipe, tag: tag.tag)
    }

    /// The LoRA called `name` (a path, else a library name, alias or hash prefix, resolved through
    /// ``loraLibrary`` as `lora-tool merge` resolves names) at the strengths given; a strength not given is the
    /// LoRA's preferred weight (A1111 sidecar), else the recipe's (1, or the LCM recipe's 0.35 for an LCM-LoRA and
    /// 0.45 for the others). Given one strength only, the other follows it (A1111's `<lora:NAME:TE>`: the UNet takes
    /// the text encoder's weight).
    /// - Throws: ``PipelineError/loraNotFound(tag:error:)``; the errors of ``openLoRA(at:)``.
    public func lora(named name: String, unetStrength: Float? = nil, textEncoderStrength: Float? = nil,
                     recipe: LoRAStrengthRecipe = .standard) throws(PipelineError) -> PipelineLoRA {
        try lora(named: name, unetStrength: unetStrength, textEncoderStrength: textEncoderStrength, recipe: recipe, tag: name)
    }

    private func lora(named name: String, unetStrength: Float? = nil, textEncoderStrength: Float? = nil,
                      recipe: LoRAStrengthRecipe = .standard, tag: String) throws(PipelineError) -> PipelineLoRA {
        let reference: LoRAReference
        do { reference = try loraLibrary.resolve(name) } catch { throw .loraNotFound(tag: tag, error: error) }
        let file = try openLoRA(at: reference.url)
        let fallback = reference.preferredWeight ?? recipe.strength(forLoRANamed: reference.name, file: file)
        let unet = unetStrength ?? textEncoderStrength ?? fallback
        return PipelineLoRA(name: reference.name, file: file, unetStrength: unet, textEncoderStrength: textEncoderStrength ?? unet)
    }

    /// The LoRA file at `url`, parsed once and kept while the file is unchanged (so asking for the same LoRA
    /// again does not fuse it again).
    /// - Throws: ``PipelineError/loraFile(path:underlying:)`` for a file that cannot be read,
    ///   ``PipelineError/notALoRA(path:reason:)`` for one that is not a LoRA.
    public func openLoRA(at url: URL) throws(PipelineError) -> LoRAFile {
        let attributes = try? FileManager.default.attributesOfItem(atPath: url.path)
        let stamp = "\(url.standardizedFileURL.path)|\((attributes?[.size] as? NSNumber)?.int64Value ?? -1)|\((attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)"
        if let file = state.read({ $0.openedLoRAs[stamp] }) { return file }
        let file: LoRAFile
        do { file = try LoRAFile(contentsOf: url) } catch { throw .loraFile(path: url.path, underlying: error) }
        if let reason = file.notALoRAReason { throw .notALoRA(path: url.path, reason: reason) }
        // Two callers opening the same file at once share the first one kept.
        return state.withLock { opened in
            if let kept = opened.openedLoRAs[stamp] { return kept }
            opened.openedLoRAs[stamp] = file
            return file
        }
    }
}
