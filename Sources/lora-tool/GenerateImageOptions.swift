import ArgumentParser
import DiffusionCore
import Foundation

/// `generate`'s picture inputs and SDXL micro-conditioning: `--init-image` (img2img), `--mask` (inpainting;
/// white is repainted, black kept, as A1111 and diffusers), `--strength`, and `--original-size`, `--crop`,
/// `--target-size` (SDXL's `original_size`, `crops_coords_top_left`, `target_size`).
struct GenerateImageOptions: ParsableArguments {
    /// `WIDTHxHEIGHT` (or `WIDTH×HEIGHT`), both positive.
    struct PixelSize: ExpressibleByArgument {
        var width: Int
        var height: Int

        init?(argument: String) {
            let parts = argument.lowercased().split(whereSeparator: { $0 == "x" || $0 == "×" })
            guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]), w > 0, h > 0, w <= 1 << 20, h <= 1 << 20 else { return nil }
            (width, height) = (w, h)
        }
    }

    /// `TOP,LEFT`, both ≥ 0.
    struct Corner: ExpressibleByArgument {
        var top: Int
        var left: Int

        init?(argument: String) {
            let parts = argument.split(separator: ",")
            guard parts.count == 2, let t = Int(parts[0]), let l = Int(parts[1]), t >= 0, l >= 0, t <= 1 << 20, l <= 1 << 20 else { return nil }
            (top, left) = (t, l)
        }
    }

    @Option(name: .customLong("init-image"), help: "img2img and inpainting: the start image (PNG or JPEG).")
    var initImage: String?

    @Option(help: "Inpainting: a mask of the init image's size (PNG or JPEG); white is repainted, black kept. A 9-channel inpainting model or any standard model (the kept region re-noised from the picture each step).")
    var mask: String?

    @Option(parsing: .unconditional, help: "How much of the schedule runs over the init image, in (0, 1] (default 0.8; 1 with --mask, as diffusers).")
    var strength: Double?

    @Option(name: .customLong("original-size"), help: "SDXL micro-conditioning: the size the picture is said to come from, WIDTHxHEIGHT (default: the output size).")
    var originalSize: PixelSize?

    @Option(help: "SDXL micro-conditioning: the crop's top-left corner, TOP,LEFT in pixels (default 0,0).")
    var crop: Corner?

    @Option(name: .customLong("target-size"), help: "SDXL micro-conditioning: the size the picture is said to be shown at, WIDTHxHEIGHT (default: the output size).")
    var targetSize: PixelSize?

    func validate() throws {
        if let strength, !(strength > 0 && strength <= 1) { throw ValidationError("--strength must be in (0, 1]") }
        if strength != nil, initImage == nil { throw ValidationError("--strength needs --init-image") }
        if mask != nil, initImage == nil { throw ValidationError("--mask needs --init-image") }
    }

    /// The files read (none may also be an output).
    var inputs: [URL] { [initImage, mask].compactMap { $0.map { URL(fileURLWithPath: $0) } } }

    var mode: GenerationMetadata.Mode { initImage == nil ? .txt2img : (mask == nil ? .img2img : .inpaint) }

    /// Sets the request's micro-conditioning and reads the pictures into it: the init image through diffusers'
    /// image processor (resized to `width`×`height` when given, else its own size rounded down to a multiple
    /// of 8), the mask through the mask processor at the same size. An unreadable picture, or a mask of
    /// another size than the init image, is exit 1 with one line.
    func configure(_ request: inout GenerationRequest, width: Int?, height: Int?) throws {
        if let originalSize { request.originalSize = (originalSize.width, originalSize.height) }
        if let targetSize { request.targetSize = (targetSize.width, targetSize.height) }
        if let crop { request.cropTopLeft = (crop.top, crop.left) }
        guard let initImage else { return }
        let picture = try read(initImage)
        do { request.initImage = try ImageProcessor.tensor(from: picture.rgb, width: width, height: height) } catch {
            printError("\(initImage): \(error)", error)
            throw badInputExitCode
        }
        request.strength = strength ?? (mask == nil ? 0.8 : 1)
        guard let mask, let image = request.initImage else { return }
        let maskPicture = try read(mask)
        guard maskPicture.rgb.width == picture.rgb.width, maskPicture.rgb.height == picture.rgb.height else {
            printError("\(mask): the mask is \(maskPicture.rgb.width)×\(maskPicture.rgb.height) but the init image is \(picture.rgb.width)×\(picture.rgb.height)")
            throw badInputExitCode
        }
        do { request.mask = try ImageProcessor.maskTensor(from: maskPicture.rgb, width: image.shape[3], height: image.shape[2]) } catch {
            printError("\(mask): \(error)", error)
            throw badInputExitCode
        }
    }

    private func read(_ path: String) throws -> LoadedImage {
        // The reader's errors name the file.
        do { return try ImageReader.read(contentsOf: URL(fileURLWithPath: path)) } catch {
            printError("\(error)", error)
            throw badInputExitCode
        }
    }
}
