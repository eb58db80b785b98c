import Foundation
import LoRAKit

extension AutoencoderTinyModel {
    /// Loads a TAESD / TAESDXL from a diffusers `AutoencoderTiny` folder (`config.json` and
    /// `diffusion_pytorch_model.safetensors`, as `madebyollin/taesd` and `madebyollin/taesdxl` ship it; else its
    /// `fp16` variant; else every other `*.safetensors` of the folder). Weights stay mapped.
    /// - Throws: ``ModelError/invalidConfig(component:reason:)`` when the folder, its config or its safetensors
    ///   weights are missing (a folder with only pickles is refused: they can run code when loaded), and the
    ///   model's own errors for a config or weights that do not make an `AutoencoderTiny`.
    public convenience init(folder: URL, loading: WeightLoading = .keepHalfPrecision) throws(ModelError) {
        let path = folder.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .invalidConfig(component: path, reason: "not a folder (a diffusers AutoencoderTiny folder: config.json and *.safetensors)")
        }
        guard let config = try? Data(contentsOf: folder.appendingPathComponent("config.json")) else {
            throw .invalidConfig(component: path, reason: "no config.json")
        }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasSuffix(".safetensors") }
        let plain = names.filter { !$0.contains(".fp16.") }.sorted()
        let standard = ["diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors"].first(where: names.contains)
        let chosen = standard.map { [$0] } ?? (plain.isEmpty ? names.sorted() : plain)
        guard !chosen.isEmpty else {
            throw .invalidConfig(component: path, reason: "no *.safetensors weights (pickled .bin/.pth files are never opened: they can run code when loaded)")
        }
        var files: [SafetensorsFile] = []
        for name in chosen {
            let file = folder.appendingPathComponent(name).path
            do { files.append(try SafetensorsFile(path: file)) } catch {
                throw .invalidWeight(name: name, file: file, reason: "\(error)")
            }
        }
        try self.init(configurationJSON: config, weightFiles: files, description: path, loading: loading)
    }

    /// The spatial factor between image and latents (one ×2 upsampling between decoder stages).
    public var downscaleFactor: Int { 1 << (configuration.numDecoderBlocks.count - 1) }
}
