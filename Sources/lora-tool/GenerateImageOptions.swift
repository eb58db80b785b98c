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
            guard let (w, h) = Self.pair(argument.lowercased(), separators: ["x", "×"], minimum: 1) else { return nil }
            (width, height) = (w, h)
        }

        /// Two whole numbers in `minimum…2²⁰` with one of `separators` between them (`832x1216`, `8,16`).
        static func pair(_ argument: String, separators: Set<Character>, minimum: Int) -> (Int, Int)? {
            let parts = argument.split(whereSeparator: separators.contains)
            guard parts.count == 2, let a = Int(parts[0]), let b = Int(parts[1]) else { return nil }
            let range = minimum...(1 << 20)
            return range.contains(a) && range.contains(b) ? (a, b) : nil
        }
    }

    /// `TOP,LEFT`, both ≥ 0.
    struct Corner: ExpressibleByArgument {
        var top: Int
        var left: Int

        init?(argument: String) {
            guard let (t, l) = PixelSize.pair(argument, separators: [","], minimum: 0) else { return nil }
            (top, left) = (t, l)
        }
    }

    @Option(name: .customLong("init-image"), help: "img2img and inpainting: the start image (PNG or JPEG).")
    var initImage: String?

    @Option(help: "Inpainting: a mask of the init image's size (PNG or JPEG); white is repainted, black kept. A 9-channel inpainting model or any standard model (the kept region re-noised from the picture each step).")
    var mask: String?

    @Option(parsing: .unconditional, help: "Denoising strength: how much of the schedule runs over the init image, in (0, 1] (default 0.8; 1 with --mask, as diffusers).")
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
