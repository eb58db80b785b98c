import Foundation
import LoRAKit

extension AutoencoderTinyModel {
    /// The spatial factor between image and latents (one ×2 upsampling between decoder stages).
    public var downscaleFactor: Int { 1 << (configuration.numDecoderBlocks.count - 1) }
}
