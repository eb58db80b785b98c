import Foundation
import Testing
@testable import LoRAKit

/// One test per validation failure, each from inline bytes.
@Suite("Safetensors header validation")
struct SafetensorsHeaderTests {
    let entry = #"{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#

    @Test("a valid minimal file parses")
    func validFileParses() throws {
        let file = try SafetensorsFile(bytes: safetensorsBytes(#"{"a":\#(entry)}"#, data: [UInt8](repeating: 0, count: 8)))
        #expect(file.tensors.map(\.name) == ["a"])
        #expect(file.tensors[0].shape == [2])
        #expect(file.metadata == nil)
    }

    @Test("an empty file is not safetensors")
    func emptyFileIsRejected() {
        #expect(parseError([]) == .notSafetensors(reason: "the file is empty"))
    }

    @Test("pickles, zip checkpoints and PNGs are named as such")
    func foreignFormatsAreNamed() {
        for prefix: [UInt8] in [[0x80, 0x02, 0x7D], [0x50, 0x4B, 0x03, 0x04, 0, 0, 0, 0, 0], [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]] {
            guard case .notSafetensors = parseError(prefix + [UInt8](repeating: 0, count: 16)) else {
                Issue.record("prefix \(prefix) not reported as foreign"); continue
            }
        }
    }

    @Test("text saved as .safetensors is named: git-LFS pointer, HTML page, JSON, other text")
    func textFilesAreNamed() throws {
        let lfs = """
            version https://git-lfs.github.com/spec/v1
            oid sha256:4a1a8c6e2e9f0b3c7d5e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c
            size 151108832

            """
        let cases: [(String, String)] = [
            (lfs, "a git-LFS pointer, not the file it points to (151108832 bytes); fetch the file with `git lfs pull` or download it again"),
            ("\u{FEFF}<!DOCTYPE html>\n<html><head><title>Sign in</title></head></html>\n", "an HTML page, not a model file (a download that saved a login or error page?)"),
            ("  <HTML>\n<body>404</body>", "an HTML page, not a model file (a download that saved a login or error page?)"),
            ("{\"_class_name\": \"UNet2DConditionModel\"}\n", "looks like JSON text, not a model file (a config or index file saved under this name?)"),
            ("Entry not found\n", "looks like text (\"Entry not found\"): a git-LFS pointer or a saved web page?"),
            ("café au lait – naïve résumé, long enough\n", "looks like text (\"café au lait – naïve résumé, long enough\"): a git-LFS pointer or a saved web page?"),
        ]
        for (text, reason) in cases {
            #expect(parseError(Array(text.utf8)) == .notSafetensors(reason: reason), "\(text.prefix(20))")
        }
        // The reason reaches the LoRA reader and the message users see.
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lfs-\(UUID().uuidString).safetensors")
        try Data(lfs.utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(throws: LoRAError.self) { try LoRAFile(contentsOf: url) }
        do { _ = try LoRAFile(contentsOf: url) } catch { #expect("\(error)".contains("git-LFS pointer"), "\(error)") }
        // A long text is judged by its start; a cut multi-byte character at the window's end is still text.
        let long = String(repeating: "é", count: TextFileSniffer.window)
        #expect(parseError(Array(long.utf8))?.description.contains("looks like text") == true)
    }

    @Test("binary that is not text keeps the header-length error")
    func binaryIsNotText() {
        // Printable start, then a control byte: not text.
        var bytes = Array("abcdefgh".utf8) + [0x00, 0x01] + Array("rest".utf8)
        #expect(parseError(bytes) == .headerTooLarge(length: 0x6867_6665_6463_6261))
        bytes = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F] + [UInt8](repeating: 0x41, count: 16)
        #expect(parseError(bytes) == .headerTooLarge(length: 0x7FFF_FFFF_FFFF_FFFF))
    }

    @Test("fewer than 8 bytes")
    func headerTooSmall() {
        #expect(parseError([1, 0, 0]) == .headerTooSmall(fileSize: 3))
    }

    @Test("header length over 100 MB")
    func headerTooLarge() {
        #expect(parseError(safetensorsBytes("{}", declaredLength: 100_000_001)) == .headerTooLarge(length: 100_000_001))
    }

    @Test("header length past the end of the file")
    func headerPastEnd() {
        #expect(parseError(safetensorsBytes("{}", declaredLength: 50)) == .headerLengthPastEnd(length: 50, fileSize: 10))
    }

    @Test("header length of u64 max")
    func headerLengthHuge() {
        #expect(parseError(safetensorsBytes("{}", declaredLength: .max)) == .headerTooLarge(length: .max))
    }

    @Test("invalid UTF-8")
    func invalidUTF8() {
        var bytes = safetensorsBytes("{\"a\":1}")
        bytes[10] = 0xFF
        #expect(parseError(bytes) == .invalidUTF8)
    }

    @Test("invalid JSON reports its offset")
    func invalidJSON() {
        guard case .invalidJSON(_, let offset) = parseError(safetensorsBytes("{\"a\" 1}")) else {
            Issue.record("expected invalidJSON"); return
        }
        #expect(offset == 5)
    }

    @Test("a JSON array is not a header")
    func headerNotObject() {
        #expect(parseError(safetensorsBytes("[]")) == .headerNotAnObject)
    }

    @Test("duplicate tensor keys")
    func duplicateTensorKey() {
        let bytes = safetensorsBytes(#"{"a":\#(entry),"a":\#(entry)}"#, data: [UInt8](repeating: 0, count: 8))
        #expect(parseError(bytes) == .duplicateKey("a"))
    }

    @Test("duplicate keys inside __metadata__ and inside an entry")
    func duplicateNestedKeys() {
        #expect(parseError(safetensorsBytes(#"{"__metadata__":{"k":"1","k":"2"}}"#)) == .duplicateKey("k"))
        let dupField = #"{"a":{"dtype":"F32","dtype":"F32","shape":[0],"data_offsets":[0,0]}}"#
        #expect(parseError(safetensorsBytes(dupField)) == .duplicateKey("dtype"))
    }

    @Test("keys equal after unescaping are duplicates")
    func escapedDuplicateKey() {
        #expect(parseError(safetensorsBytes(#"{"__metadata__":{"k":"1","\u006b":"2"}}"#)) == .duplicateKey("k"))
    }

    @Test("missing fields")
    func missingField() {
        #expect(parseError(safetensorsBytes(#"{"a":{"dtype":"F32","shape":[0]}}"#))
                == .invalidTensorEntry(tensor: "a", reason: "missing field \"data_offsets\""))
    }

    @Test("ill-typed fields")
    func illTypedField() {
        #expect(parseError(safetensorsBytes(#"{"a":{"dtype":4,"shape":[0],"data_offsets":[0,0]}}"#))
                == .invalidTensorEntry(tensor: "a", reason: "\"dtype\" must be a string"))
        #expect(parseError(safetensorsBytes(#"{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,0]}}"#))
                == .invalidTensorEntry(tensor: "a", reason: "\"shape\" must be an array of integers"))
        #expect(parseError(safetensorsBytes(#"{"a":"F32"}"#))
                == .invalidTensorEntry(tensor: "a", reason: "expected an object, found string"))
    }

    @Test("unknown dtype")
    func unknownDType() {
        #expect(parseError(safetensorsBytes(#"{"a":{"dtype":"F128","shape":[0],"data_offsets":[0,0]}}"#))
                == .unknownDType(tensor: "a", dtype: "F128"))
    }

    @Test("negative shape")
    func negativeShape() {
        #expect(parseError(safetensorsBytes(#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}"#))
                == .negativeValue(tensor: "a", field: "shape"))
    }

    @Test("shape product overflows")
    func shapeOverflow() {
        let h = #"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}"#
        #expect(parseError(safetensorsBytes(h)) == .overflow(tensor: "a"))
        let huge = #"{"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,0]}}"#
        #expect(parseError(safetensorsBytes(huge)) == .overflow(tensor: "a"))
    }

    @Test("byte length differs from elements × dtype size")
    func sizeMismatch() {
        let h = #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#
        #expect(parseError(safetensorsBytes(h, data: [UInt8](repeating: 0, count: 8)))
                == .sizeMismatch(tensor: "a", expected: 12, actual: 8))
    }

    @Test("reversed offsets")
    func reversedOffsets() {
        let h = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#
        #expect(parseError(safetensorsBytes(h, data: [UInt8](repeating: 0, count: 8)))
                == .reversedOffsets(tensor: "a", begin: 8, end: 0))
    }

    @Test("offsets past the data section")
    func offsetsOutOfBounds() {
        let h = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        #expect(parseError(safetensorsBytes(h, data: [0, 0, 0, 0])) == .offsetsOutOfBounds(tensor: "a", end: 8, dataSize: 4))
    }

    @Test("overlapping tensors")
    func overlapping() {
        let h = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        #expect(parseError(safetensorsBytes(h, data: [UInt8](repeating: 0, count: 8))) == .overlappingOffsets(tensor: "b", other: "a"))
    }

    @Test("a gap between tensors")
    func gap() {
        let h = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#
        #expect(parseError(safetensorsBytes(h, data: [UInt8](repeating: 0, count: 12)))
                == .gapInOffsets(tensor: "b", expectedBegin: 4, actualBegin: 8))
    }

    @Test("data not covered to the end of the file (polyglot tail)")
    func incompleteBuffer() {
        let h = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        #expect(parseError(safetensorsBytes(h, data: [UInt8](repeating: 0, count: 6))) == .incompleteBuffer(covered: 4, dataSize: 6))
    }

    @Test("metadata values must be strings")
    func metadataNotStrings() {
        #expect(parseError(safetensorsBytes(#"{"__metadata__":{"epochs":3}}"#))
                == .invalidMetadata(key: "epochs", reason: "expected a string value, found number"))
        #expect(parseError(safetensorsBytes(#"{"__metadata__":["x"]}"#))
                == .invalidMetadata(key: nil, reason: "expected an object, found array"))
    }

    @Test("deep nesting is refused without exhausting the stack")
    func deepNesting() {
        let h = "{\"__metadata__\":" + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}"
        guard case .invalidJSON = parseError(safetensorsBytes(h)) else { Issue.record("expected invalidJSON"); return }
    }

    @Test("scalars, zero-size tensors, padding and leading whitespace are accepted")
    func lenientCases() throws {
        let h = #"  {"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"e":{"dtype":"F16","shape":[0,3],"data_offsets":[4,4]}}    "#
        let file = try SafetensorsFile(bytes: safetensorsBytes(h, data: [0, 0, 0x80, 0x3F]))
        #expect(try file.tensor(named: "s").floats() == [1.0])
        #expect(try file.tensor(named: "e").floats() == [])
        #expect(file.info(named: "s")?.elementCount == 1)
    }

    @Test("a missing tensor name is a typed error")
    func tensorNotFound() throws {
        let file = try SafetensorsFile(bytes: safetensorsBytes("{}"))
        #expect(throws: SafetensorsError.tensorNotFound("x")) { try file.tensor(named: "x") }
    }
}

@Suite("Safetensors foreign-format detection")
struct SafetensorsForeignFormatTests {
    @Test("a header length of 640 (bytes 80 02 …) is not mistaken for a pickle")
    func headerLengthLooksLikePickle() throws {
        let header = "{" + String(repeating: " ", count: 638) + "}"
        let bytes = safetensorsBytes(header)
        #expect(bytes[0] == 0x80 && bytes[1] == 0x02)
        let file = try SafetensorsFile(bytes: bytes)
        #expect(file.tensors.isEmpty)
    }
}
