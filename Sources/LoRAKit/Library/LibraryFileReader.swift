import Foundation

/// Turns one file of the library folder into an entry or a skipped file, from its header only.
enum LibraryFileReader {
    enum Outcome: Sendable {
        case entry(LoRALibraryEntry)
        case skipped(LoRALibrarySkippedFile)
    }

    /// Extensions of PyTorch pickle files, listed as skipped without being opened.
    static let pickleExtensions: Set<String> = ["ckpt", "pt", "pth", "bin"]

    /// How many `ss_tag_frequency` tags become trigger words.
    static let tagTriggerLimit = 5

    /// Reads `file.path`. Never throws: every failure is a skipped file with its reason.
    static func read(_ file: LibraryListing.File, sidecarPath: String?) -> Outcome {
        func skip(_ kind: LoRALibrarySkippedFile.Kind, _ reason: String) -> Outcome {
            .skipped(LoRALibrarySkippedFile(name: file.stem, relativePath: file.relativePath, path: file.path,
                                            kind: kind, reason: reason, fileSize: file.size))
        }
        if pickleExtensions.contains(file.pathExtension) {
            return skip(.pickle, "a PyTorch pickle (.\(file.pathExtension)); pickles are never loaded — convert it to .safetensors")
        }
        let st: SafetensorsFile
        do {
            st = try SafetensorsFile(path: file.path)
        } catch {
            switch error {
            case .notSafetensors(let reason) where reason.contains("pickle") || reason.contains("zip archive"):
                return skip(.pickle, reason)
            case .io:
                return skip(.unreadable, error.description)
            default:
                return skip(.invalidSafetensors, error.description)
            }
        }
        let lora: LoRAFile
        do { lora = try LoRAFile(file: st) } catch { return skip(.invalidSafetensors, error.description) }
        guard lora.isLoRA else {
            let (kind, reason) = classify(st, lora: lora)
            return skip(kind, reason)
        }
        let sidecar = sidecarPath.flatMap(LoRASidecar.read(path:))
        return .entry(makeEntry(file, lora: lora, sidecar: sidecar))
    }

    static func makeEntry(_ file: LibraryListing.File, lora: LoRAFile, sidecar: LoRASidecar?) -> LoRALibraryEntry {
        let md = lora.file.metadata ?? [:]
        var aliases: [String] = []
        for key in ["ss_output_name", "modelspec.title"] {
            guard let v = md[key]?.trimmingCharacters(in: .whitespacesAndNewlines), !v.isEmpty, v != "None",
                  v.lowercased() != file.stem.lowercased(),
                  !aliases.contains(where: { $0.lowercased() == v.lowercased() }) else { continue }
            aliases.append(v)
        }
        var triggers: [String] = []
        var seen = Set<String>()
        for word in (sidecar?.triggerWords ?? []) + lora.triggerWords(limit: tagTriggerLimit).map(\.text)
        where seen.insert(word.lowercased()).inserted {
            triggers.append(word)
        }
        let families = lora.familyCounts.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map(\.key)
        return LoRALibraryEntry(
            name: file.stem, relativePath: file.relativePath, path: file.path, aliases: aliases,
            format: lora.format, families: families, moduleCount: lora.modules.count, doraModuleCount: lora.doraCount,
            baseModel: lora.baseModel.detected, baseModelFromMetadata: lora.baseModel.metadataSays,
            baseModelConflict: lora.baseModel.conflict, components: lora.components,
            rank: LoRARankSummary(modules: lora.modules), triggerWords: triggers,
            embeddedTokens: lora.embeddedTokens.map(\.name), sidecar: sidecar, previewImage: nil,
            fileSize: file.size, modified: file.modified, hashes: nil)
    }

    /// What a valid safetensors file without LoRA modules is, from its key names and shapes.
    static func classify(_ st: SafetensorsFile, lora: LoRAFile) -> (LoRALibrarySkippedFile.Kind, String) {
        let names = st.tensors.map(\.name)
        let count = "\(names.count) tensor" + (names.count == 1 ? "" : "s")
        func any(_ prefix: String) -> Bool { names.contains { $0.hasPrefix(prefix) } }
        let embeddingKeys: Set<String> = ["emb_params", "clip_l", "clip_g", "string_to_token"]
        let smallMatrices = !st.tensors.isEmpty && st.tensors.count <= 3 && st.tensors.allSatisfy {
            $0.shape.count == 2 && [768, 1024, 1280].contains($0.shape[1])
        }
        if !lora.embeddedTokens.isEmpty || any("string_to_param") || names.contains(where: embeddingKeys.contains) || smallMatrices {
            let vectors = st.tensors.filter { $0.shape.count == 2 }.map { $0.shape[0] }.max() ?? 0
            return (.textualInversion, "a textual-inversion embedding (\(count), \(vectors) vector\(vectors == 1 ? "" : "s")); load it as an embedding, not a LoRA")
        }
        switch ModelKind.sniff(names) {
        case .checkpoint(let parts) where parts.contains(.unet):
            let extra = [(ModelPart.vae, "VAE"), (.textEncoder, parts.contains(.textEncoder2) ? "text encoders" : "text encoder")]
                .filter { parts.contains($0.0) }.map(\.1)
            return (.checkpoint, "a full Stable Diffusion checkpoint (UNet" + extra.map { ", " + $0 }.joined() + "; \(count))")
        case .checkpoint(let parts) where parts.contains(.vae):
            return (.vae, "a VAE (\(count))")
        case .ldmVAE, .diffusersComponent(.vae):
            return (.vae, "a VAE (\(count))")
        case .controlNet:
            return (.modelComponent, "a ControlNet (\(count))")
        case .diffusersComponent(.unet):
            return (.modelComponent, "diffusers UNet weights, not a LoRA (\(count))")
        case .checkpoint, .diffusersComponent:
            return (.modelComponent, "text encoder weights, not a LoRA (\(count))")
        case nil:
            break
        }
        let example = names.first.map { "; first key: \($0)" } ?? ""
        let reasons = Set(lora.unrecognized.map(\.reason)).sorted().prefix(2)
        let why = reasons.isEmpty ? "" : " (" + reasons.joined(separator: "; ") + ")"
        return (.notALoRA, "no LoRA module recognised in \(count)\(example)\(why)")
    }
}

extension LoRAFile {
    /// Why this file is not a LoRA, saying what it looks like instead (a checkpoint, a VAE, a
    /// textual-inversion embedding…); nil when it holds LoRA modules.
    public var notALoRAReason: String? {
        isLoRA ? nil : LibraryFileReader.classify(file, lora: self).1.replacingOccurrences(of: ", not a LoRA", with: "")
    }
}
