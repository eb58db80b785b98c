import ArgumentParser
import DiffusionCore
import Foundation

/// `generate`'s TAESD and preview options: `--taesd DIR` decodes with the tiny autoencoder (as
/// stable-diffusion.cpp's `--taesd`), `--decoder vae` keeps the VAE for the final image and TAESD for the previews,
/// `--preview FILE [--preview-every N]` rewrites a PNG of the picture so far as the steps run, `--vae-tiling`
/// chooses whole-image or tiled VAE passes.
struct GenerateDecodingOptions: ParsableArguments {
    enum Decoder: String, ExpressibleByArgument, CaseIterable {
        case vae, taesd
    }

    @Option(help: "A TAESD folder (diffusers AutoencoderTiny, e.g. madebyollin/taesd; taesdxl for SDXL): fast decoding and previews.")
    var taesd: String?

    @Option(help: "What decodes the final image: vae or taesd (default: taesd when --taesd is given, else vae).")
    var decoder: Decoder?

    @Option(help: "A PNG rewritten with the picture so far as the steps run (TAESD with --taesd, else a quick latent approximation at 1/8 size).")
    var preview: String?

    @Option(name: .customLong("vae-tiling"), help: "auto (default): the VAE decodes (and encodes) in overlapping tiles only when the whole image would take more than half of the machine's memory; on: always in tiles (diffusers' enable_vae_tiling, A1111's tiled VAE); off: never.")
    var vaeTiling: VAETiling?

    @Option(name: .customLong("preview-every"), parsing: .unconditional, help: "Steps between previews (default 1; the last step always gets one).")
    var previewEvery: Int?

    func validate() throws {
        try validateOutputPath(preview, option: "--preview")
        try validatePNGName(preview, option: "--preview")
        if let previewEvery, previewEvery < 1 { throw ValidationError("--preview-every must be at least 1, got \(previewEvery)") }
        if previewEvery != nil, preview == nil { throw ValidationError("--preview-every needs --preview FILE") }
        if decoder == .taesd, taesd == nil { throw ValidationError("--decoder taesd needs --taesd DIR") }
    }

    /// The preview files: FILE, or FILE-1.png … FILE-N.png for a batch (as the outputs are named).
    func previewURLs(batch: Int) -> [URL] {
        guard let preview else { return [] }
        let url = URL(fileURLWithPath: preview)
        guard batch > 1 else { return [url] }
        let stem = url.deletingPathExtension().lastPathComponent
        let ext = url.pathExtension.isEmpty ? "png" : url.pathExtension
        return (1...batch).map { url.deletingLastPathComponent().appendingPathComponent("\(stem)-\($0).\(ext)") }
    }

    /// Loads the TAESD into the pipeline; a bad folder or one for other latents is exit 1 with one line.
    func load(into pipeline: DiffusionPipeline) throws {
        guard let taesd else { return }
        do { try pipeline.loadTinyAutoencoder(folder: URL(fileURLWithPath: taesd)) } catch {
            printError("--taesd: \(error)", error)
            throw badInputExitCode
        }
    }

    func configure(_ request: inout GenerationRequest) {
        request.decoder = (decoder ?? (taesd != nil ? .taesd : .vae)) == .taesd ? .tinyAutoencoder : .vae
        request.previewEvery = preview == nil ? 0 : (previewEvery ?? 1)
        request.vaeTiling = vaeTiling ?? .automatic
    }
}

extension VAETiling: ExpressibleByArgument {}
