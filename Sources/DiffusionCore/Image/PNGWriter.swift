import CImageCodecs
import Foundation
import LoRAKit
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One PNG text chunk. Latin-1 text is written as `tEXt`, anything else as uncompressed `iTXt` (UTF-8), as
/// Pillow's `PngInfo.add_text` (which A1111 and InvokeAI use) does.
public struct PNGTextChunk: Sendable, Equatable {
    /// 1–79 printable Latin-1 characters, no leading, trailing or double spaces.
    public var keyword: String
    public var text: String

    public init(keyword: String, text: String) {
        self.keyword = keyword
        self.text = text
    }
}

/// Writes 8-bit RGB PNG files through libpng, atomically: the file is built under a temporary name in the
/// destination folder and renamed into place when complete, so no partial PNG is ever seen, and a stop
/// requested through LoRAKit's `PendingOutputs` removes the temporary file.
public enum PNGWriter {
    /// The PNG bytes of `image` with `textChunks` before the image data.
    /// - Throws: ``ImageError/invalidText(keyword:reason:)``, ``ImageError/encodingFailed(reason:)``.
    public static func encode(_ image: RGBImage, textChunks: [PNGTextChunk] = []) throws(ImageError) -> Data {
        var keywords: [[CChar]] = []
        var texts: [[CChar]] = []
        var international: [Int32] = []
        for chunk in textChunks {
            try validate(keyword: chunk.keyword)
            guard !chunk.text.contains("\0") else { throw .invalidText(keyword: chunk.keyword, reason: "text contains a NUL character") }
            keywords.append(latin1CString(chunk.keyword)!)
            if let latin1 = latin1CString(chunk.text) {
                texts.append(latin1)
                international.append(0)
            } else {
                texts.append(chunk.text.utf8CString.map { $0 })
                international.append(1)
            }
        }
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: 256)
        let code: Int32 = withCStringArrays(keywords, texts) { keywordPointers, textPointers in
            var descriptors = (0..<keywords.count).map { i in
                dk_png_text(keyword: keywordPointers[i], text: textPointers[i], length: texts[i].count - 1, international: international[i])
            }
            return image.pixels.withUnsafeBufferPointer { rgb in
                descriptors.withUnsafeMutableBufferPointer { d in
                    message.withUnsafeMutableBufferPointer { msg in
                        dk_png_encode_rgb8(rgb.baseAddress, UInt32(image.width), UInt32(image.height), d.baseAddress, d.count,
                                           &out, &size, msg.baseAddress, msg.count)
                    }
                }
            }
        }
        defer { dk_image_free(out) }
        guard code == DK_IMAGE_OK, let out else {
            let reason = String(decoding: message.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw .encodingFailed(reason: reason.isEmpty ? "code \(code)" : reason)
        }
        return Data(bytes: out, count: size)
    }

    /// Writes `image` as a PNG file at `url`, with `metadata` (A1111 `parameters` and InvokeAI
    /// `invokeai_metadata` chunks) and any extra text chunks.
    /// - Parameter overwrite: whether an existing file at `url` may be replaced (it is replaced atomically).
    /// - Throws: the errors of ``encode(_:textChunks:)``, ``ImageError/outputExists(path:)``,
    ///   ``ImageError/io(path:reason:)``. Nothing is left at `url` or beside it when it throws.
    public static func write(_ image: RGBImage, to url: URL, metadata: GenerationMetadata? = nil,
                             extraTextChunks: [PNGTextChunk] = [], overwrite: Bool = false) throws(ImageError) {
        let data = try encode(image, textChunks: (metadata?.pngTextChunks ?? []) + extraTextChunks)
        try writeAtomically(data, to: url, overwrite: overwrite)
    }

    /// Writes `data` to a temporary file beside `url`, flushes it to disk and renames it into place.
    static func writeAtomically(_ data: Data, to url: URL, overwrite: Bool) throws(ImageError) {
        let path = url.path
        if let reason = OutputPath.irreplaceable(url) { throw .io(path: path, reason: "\(reason); only a regular file is ever replaced") }
        if !overwrite, FileManager.default.fileExists(atPath: path) { throw .outputExists(path: path) }
        let folder = url.deletingLastPathComponent()
        let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).tmp-\(UUID().uuidString.prefix(8))").path
        let token = PendingOutputs.register(temporary)
        defer { PendingOutputs.unregister(token) }
        guard token != nil else { throw .io(path: path, reason: "the process is stopping; nothing written") }
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else { throw .io(path: path, reason: "cannot create a file in \(folder.path): \(String(cString: strerror(errno)))") }
        var failure: String?
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = posixWrite(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = "write failed: \(String(cString: strerror(errno)))"
                    return
                }
                offset += n
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = "fsync failed: \(String(cString: strerror(errno)))" }
        close(fd)
        if let failure {
            unlink(temporary)
            throw .io(path: path, reason: failure)
        }
        var renameError: String?
        let published = PendingOutputs.publish(token) {
            if !overwrite, FileManager.default.fileExists(atPath: path) {
                renameError = "exists"
            } else if let reason = OutputPath.irreplaceable(url) {
                renameError = "\(reason); only a regular file is ever replaced"
            } else if rename(temporary, path) != 0 {
                renameError = "rename failed: \(String(cString: strerror(errno)))"
            }
        }
        if !published || renameError != nil {
            unlink(temporary)
            if renameError == "exists" { throw .outputExists(path: path) }
            throw .io(path: path, reason: renameError ?? "the process is stopping; nothing written")
        }
    }

    /// PNG keyword rules (1–79 Latin-1 printable characters, no leading/trailing/double spaces).
    static func validate(keyword: String) throws(ImageError) {
        guard let bytes = latin1CString(keyword)?.dropLast(), (1...79).contains(bytes.count) else {
            throw .invalidText(keyword: keyword, reason: "a keyword has 1 to 79 Latin-1 characters")
        }
        let codes = bytes.map { UInt8(bitPattern: $0) }
        guard codes.allSatisfy({ (32...126).contains($0) || (161...255).contains($0) }),
              codes.first != 32, codes.last != 32, !keyword.contains("  ") else {
            throw .invalidText(keyword: keyword, reason: "a keyword has printable characters and single inner spaces only")
        }
    }

    /// The NUL-terminated Latin-1 bytes of `s`, or nil when it has a character beyond U+00FF.
    static func latin1CString(_ s: String) -> [CChar]? {
        var out: [CChar] = []
        out.reserveCapacity(s.unicodeScalars.count + 1)
        for scalar in s.unicodeScalars {
            guard scalar.value <= 0xFF else { return nil }
            out.append(CChar(bitPattern: UInt8(scalar.value)))
        }
        out.append(0)
        return out
    }

    private static func withCStringArrays<R>(_ a: [[CChar]], _ b: [[CChar]],
                                             _ body: ([UnsafePointer<CChar>], [UnsafePointer<CChar>]) -> R) -> R {
        // Copy into stable allocations that live for the call.
        let pa = a.map { chars -> UnsafeMutablePointer<CChar> in
            let p = UnsafeMutablePointer<CChar>.allocate(capacity: chars.count)
            p.initialize(from: chars, count: chars.count)
            return p
        }
        let pb = b.map { chars -> UnsafeMutablePointer<CChar> in
            let p = UnsafeMutablePointer<CChar>.allocate(capacity: chars.count)
            p.initialize(from: chars, count: chars.count)
            return p
        }
        defer { (pa + pb).forEach { $0.deallocate() } }
        return body(pa.map { UnsafePointer($0) }, pb.map { UnsafePointer($0) })
    }
}

private func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}
