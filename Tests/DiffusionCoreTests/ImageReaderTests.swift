import Foundation
import Testing
@testable import DiffusionCore

@Suite("ImageReader")
struct ImageReaderTests {
    @Test("Every PNG colour type and JPEG kind reads as Pillow's convert(\"RGB\"), alpha as Pillow's A band")
    func decodesLikePillow() throws {
        let fixtures = try ImageFixtureFile.load()
        #expect(fixtures.decode.count >= 11)
        for entry in fixtures.decode {
            let image = try ImageReader.read(contentsOf: ImageFixtureFile.url(entry.file))
            #expect(image.rgb.width == entry.width && image.rgb.height == entry.height, "\(entry.file)")
            if let problem = bytesMismatch(image.rgb.pixels, entry.rgb) { Issue.record("\(entry.file) rgb: \(problem)") }
            if let alpha = entry.alpha {
                guard let ours = image.alpha else { Issue.record("\(entry.file): no alpha"); continue }
                if let problem = bytesMismatch(ours.pixels, alpha) { Issue.record("\(entry.file) alpha: \(problem)") }
            } else {
                #expect(image.alpha == nil, "\(entry.file)")
            }
        }
    }

    private func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: ImageFixtureFile.url(name)))
    }

    @Test("A PNG truncated anywhere is a typed error, never a crash")
    func truncatedPNG() throws {
        let png = try bytes("rgba8.png")
        for cut in stride(from: 0, to: png.count, by: 7) {
            #expect(throws: ImageError.self) { try ImageReader.decode(Data(png[..<cut])) }
        }
    }

    @Test("A JPEG truncated anywhere is a typed error, never a crash")
    func truncatedJPEG() throws {
        let jpeg = try bytes("progressive.jpg")
        for cut in stride(from: 0, to: jpeg.count - 2, by: 11) {
            #expect(throws: ImageError.self) { try ImageReader.decode(Data(jpeg[..<cut])) }
        }
    }

    @Test("Damaged PNG data (bad CRC, flipped bytes) is an error")
    func damagedPNG() throws {
        var png = try bytes("rgb8.png")
        png[png.count - 20] ^= 0x5A  // inside the IDAT data: zlib or CRC fails
        do {
            _ = try ImageReader.decode(Data(png), path: "x.png")
            Issue.record("a damaged PNG decoded")
        } catch let error {
            guard case .corrupt(let path, _) = error else { Issue.record("unexpected \(error)"); return }
            #expect(path == "x.png")
        }
        // Random byte flips anywhere: always either a picture or an ImageError.
        let original = try bytes("palette-trns.png")
        var state: UInt64 = 12345
        for _ in 0..<300 {
            var copy = original
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let position = Int(state >> 33) % copy.count
            copy[position] ^= UInt8(truncatingIfNeeded: state >> 13) | 1
            _ = try? ImageReader.decode(Data(copy))
        }
    }

    @Test("Files that are not pictures are unknownFormat; unreadable paths are io errors")
    func notPictures() throws {
        #expect(throws: ImageError.unknownFormat(path: "<memory>")) { try ImageReader.decode(Data("hello".utf8)) }
        #expect(throws: ImageError.unknownFormat(path: "<memory>")) { try ImageReader.decode(Data()) }
        let missing = URL(fileURLWithPath: "/nonexistent/\(UUID().uuidString).png")
        #expect(throws: ImageError.self) { try ImageReader.read(contentsOf: missing) }
    }

    @Test("Huge declared dimensions are refused before any allocation")
    func hugeDimensions() throws {
        // A PNG whose IHDR claims 100000 × 100000 pixels (valid CRCs), with an empty IDAT.
        var ihdr: [UInt8] = Array("IHDR".utf8)
        ihdr += be32(100_000) + be32(100_000) + [8, 2, 0, 0, 0]
        let idat: [UInt8] = Array("IDAT".utf8), iend: [UInt8] = Array("IEND".utf8)
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + be32(13) + ihdr + be32(crc32(ihdr))
            + be32(0) + idat + be32(crc32(idat)) + be32(0) + iend + be32(crc32(iend))
        #expect(throws: ImageError.tooLarge(path: "<memory>", reason: "picture is empty or has more than \(ImageReader.defaultMaximumPixels) pixels")) {
            try ImageReader.decode(Data(png))
        }
        let small = try bytes("rgb8.png")
        #expect(throws: ImageError.self) { try ImageReader.decode(Data(small), maximumPixels: 100) }
    }

    private func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

    private func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }
}
