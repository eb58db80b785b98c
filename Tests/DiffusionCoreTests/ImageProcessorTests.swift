import Foundation
import Testing
@testable import DiffusionCore

@Suite("ImageProcessor")
struct ImageProcessorTests {
    @Test("Lanczos resize equals Pillow's Image.resize(LANCZOS) byte for byte")
    func resizeMatchesPillow() throws {
        let fixtures = try ImageFixtureFile.load()
        for entry in fixtures.resize {
            let source = try ImageReader.read(contentsOf: ImageFixtureFile.url(entry.file)).rgb
            let result: [UInt8]
            if entry.mode == "L" {
                // The L sources are saved as gray PNGs: every channel of the RGB read is the gray value.
                let gray = try GrayImage(width: source.width, height: source.height, pixels: stride(from: 0, to: source.pixels.count, by: 3).map { source.pixels[$0] })
                result = try ImageProcessor.resized(gray, width: entry.target_width, height: entry.target_height).pixels
            } else {
                result = try ImageProcessor.resized(source, width: entry.target_width, height: entry.target_height).pixels
            }
            if let problem = bytesMismatch(result, entry.result) {
                Issue.record("\(entry.file) \(entry.width)×\(entry.height) → \(entry.target_width)×\(entry.target_height): \(problem)")
            }
        }
    }

    @Test("preprocess equals diffusers' VaeImageProcessor bit for bit (multiple-of-8 rounding, Lanczos, [-1, 1])")
    func preprocessMatchesDiffusers() throws {
        let fixtures = try ImageFixtureFile.load()
        let image = try ImageReader.read(contentsOf: ImageFixtureFile.url(fixtures.preprocess.file)).rgb
        let tensor = try ImageProcessor.tensor(from: image)
        #expect(tensor.shape == [1, 3, 40, 64])
        if let problem = floatsMismatch(tensor, fixtures.preprocess.tensor) { Issue.record("default size: \(problem)") }
        let sized = try ImageProcessor.tensor(from: image, width: fixtures.preprocess.sized.width, height: fixtures.preprocess.sized.height)
        if let problem = floatsMismatch(sized, fixtures.preprocess.sized.tensor) { Issue.record("48×32: \(problem)") }
    }

    @Test("The inpainting mask equals diffusers' mask processor (grayscale, Lanczos, binarised)")
    func maskMatchesDiffusers() throws {
        let fixtures = try ImageFixtureFile.load()
        let image = try ImageReader.read(contentsOf: ImageFixtureFile.url(fixtures.mask.file)).rgb
        let tensor = try ImageProcessor.maskTensor(from: image)
        if let problem = floatsMismatch(tensor, fixtures.mask.tensor) { Issue.record(Comment(rawValue: problem)) }
    }

    @Test("postprocess equals diffusers' (x/2 + 0.5, clamp, ×255, round half to even), also beyond [-1, 1] and ±∞")
    func postprocessMatchesDiffusers() throws {
        let fixtures = try ImageFixtureFile.load()
        let values = fixtures.postprocess.tensor.map { Float($0) }
        let images = try ImageProcessor.images(from: Tensor(shape: fixtures.postprocess.shape, scalars: values))
        #expect(images.count == fixtures.postprocess.images.count)
        for (image, record) in zip(images, fixtures.postprocess.images) {
            if let problem = bytesMismatch(image.pixels, record) { Issue.record(Comment(rawValue: problem)) }
        }
    }

    @Test("Bad sizes and shapes throw")
    func badInput() throws {
        let tiny = try RGBImage(width: 5, height: 5, pixels: [UInt8](repeating: 9, count: 75))
        #expect(throws: ImageError.invalidDimensions(width: 5, height: 5, reason: "under 8 pixels on a side (sizes are rounded down to a multiple of 8)")) {
            try ImageProcessor.tensor(from: tiny)
        }
        #expect(throws: ImageError.invalidDimensions(width: 64, height: 7, reason: "under 8 pixels on a side (sizes are rounded down to a multiple of 8)")) {
            try ImageProcessor.tensor(from: tiny, width: 64, height: 7)
        }
        #expect(throws: ImageError.self) { try RGBImage(width: 2, height: 2, pixels: [1, 2, 3]) }
        #expect(throws: ImageError.self) { try RGBImage(width: -2, height: 2, pixels: []) }
        #expect(throws: ImageError.invalidTensorShape(expected: "[N, 3, H, W]", actual: [1, 4, 2, 2])) {
            try ImageProcessor.images(from: Tensor(shape: [1, 4, 2, 2], repeating: 0))
        }
    }

    @Test("Latent preview: SD1 and SDXL factors applied per pixel, ComfyUI's mapping to bytes")
    func latentPreview() throws {
        // One latent pixel per channel pattern; the expected bytes follow the formula by hand.
        let latent = try Tensor(shape: [1, 4, 1, 2], scalars: [1, 0, 0, 0, 0, 0, 0, -1])
        let sd1 = try LatentPreview.image(from: latent, factors: .sd1)
        // pixel 0 = channel 0 row: (0.3512, 0.2297, 0.3227); pixel 1 = −channel 1 row... channel 3 = −1 at pixel 1
        func byte(_ v: Float) -> UInt8 { UInt8(min(max((v + 1) / 2, 0), 1) * 255) }
        #expect(Array(sd1.pixels[0..<3]) == [byte(0.3512), byte(0.2297), byte(0.3227)])
        #expect(Array(sd1.pixels[3..<6]) == [byte(0.2120), byte(0.2616), byte(0.7177)])
        let sdxl = try LatentPreview.image(from: latent, factors: .sdxl)
        #expect(Array(sdxl.pixels[0..<3]) == [byte(0.1084 + 0.3651), byte(-0.0175 + 0.4232), byte(-0.0011 + 0.4341)])
        #expect(throws: ImageError.self) { try LatentPreview.image(from: latent, index: 1, factors: .sd1) }
        #expect(throws: ImageError.self) { try LatentPreview.image(from: Tensor(shape: [1, 3, 2, 2], repeating: 0), factors: .sd1) }
    }
}
