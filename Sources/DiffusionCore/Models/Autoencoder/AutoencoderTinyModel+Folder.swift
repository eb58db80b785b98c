import Foundation
import LoRAKit

extension AutoencoderTinyModel {
    /// The weight files of a diffusers `AutoencoderTiny` folder (as `madebyollin/taesd` and `madebyollin/taesdxl`
    /// ship it): `diffusion_pytorch_model.safetensors`, else its `fp16` variant, else every other
    /// `*.safetensors` of the folder (plain files before `fp16` ones). Empty when there is none.
    static func weightFileNames(in folder: URL) -> [String] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0.hasSuffix(".safetensors") }
        if let standard = ["diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors"].first(where: names.contains) {
            return [standard]
        }
        let plain = names.filter { !$0.contains(".fp16.") }.sorted()
        return plain.isEmpty ? names.sorted() : plain
    }

    /// The spatial factor between image and latents (one ×2 upsampling between decoder stages).
    public var downscaleFactor: Int { 1 << (configuration.numDecoderBlocks.count - 1) }
}
