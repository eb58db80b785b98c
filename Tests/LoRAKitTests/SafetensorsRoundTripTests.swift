import Foundation
import Testing
@testable import LoRAKit

@Suite("Safetensors writing and reading")
struct SafetensorsRoundTripTests {
    @Test("write → read keeps bytes, shapes and metadata for every dtype", arguments: DType.allCases)
    func roundTrip(dtype: DType) throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let shape = [3, 5]
        let bytes = (0..<(15 * dtype.byteSize)).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        var writer = SafetensorsWriter(metadata: ["dtype": dtype.rawValue, "note": "round \"trip\"\n"])
        writer.add(.init(name: "t", dtype: dtype, shape: shape, source: .bytes(bytes)))
        writer.add(.init(name: "scalar", dtype: dtype, shape: [], source: .bytes(Array(bytes.prefix(dtype.byteSize)))))
        writer.add(.init(name: "empty", dtype: dtype, shape: [2, 0], source: .bytes([])))
        let url = folder.appendingPathComponent("out.safetensors")
        try writer.write(to: url)

        let file = try SafetensorsFile(contentsOf: url)
        #expect(file.metadata == ["dtype": dtype.rawValue, "note": "round \"trip\"\n"])
        #expect(try file.tensor(named: "t").bytes() == bytes)
        #expect(file.info(named: "t")?.shape == shape)
        #expect(file.info(named: "scalar")?.shape == [])
        #expect(file.info(named: "empty")?.shape == [2, 0])
        #expect(file.headerLength % 8 == 0)
        for info in file.tensors {
            #expect((file.dataStart + info.dataOffsets.lowerBound) % dtype.byteSize == 0, "tensor \(info.name) misaligned")
        }
    }

    @Test("floats encode to F16, BF16, F32 and F64 with round-to-nearest-even")
    func floatEncoding() throws {
        let values: [Float] = [0, -0.0, 1, 1.0009765625, 1.00048828125, 65520, .infinity, -.infinity, 1e-8, 3.14159274]
        for dtype in [DType.f16, .bf16, .f32, .f64] {
            var out = [UInt8](repeating: 0, count: values.count * dtype.byteSize)
            values.withUnsafeBufferPointer { v in out.withUnsafeMutableBytes { ElementConversion.encode(v, as: dtype, into: $0) } }
            var decoded = [Float](repeating: 0, count: values.count)
            out.withUnsafeBytes { raw in decoded.withUnsafeMutableBufferPointer { ElementConversion.decode(raw, dtype: dtype, into: $0) } }
            for (v, d) in zip(values, decoded) {
                let expected: Float = switch dtype {
                case .f16: Float(Float16(v))
                case .bf16: Float(bitPattern: UInt32(ElementConversion.bfloat16Bits(v)) << 16)
                default: v
                }
                #expect(d.bitPattern == expected.bitPattern, "\(dtype) \(v) → \(d)")
            }
        }
        // Ties to even for bfloat16: 1 + 2^-8 is halfway between 1 and 1 + 2^-7.
        #expect(ElementConversion.bfloat16Bits(1.00390625) == 0x3F80)
        #expect(ElementConversion.bfloat16Bits(1.01171875) == 0x3F82)
        #expect(ElementConversion.bfloat16Bits(.nan) == 0x7FC0)
    }

    @Test("the writer refuses an existing output unless asked, and never an input")
    func overwriteRules() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("a.safetensors")
        var writer = SafetensorsWriter()
        writer.add(name: "x", shape: [2], floats: [1, 2])
        try writer.write(to: url)
        #expect(throws: SafetensorsError.outputExists(path: url.path)) { try writer.write(to: url) }
        try writer.write(to: url, overwrite: true)

        let input = try SafetensorsFile(contentsOf: url)
        var copy = SafetensorsWriter()
        copy.add(try input.tensor(named: "x"))
        #expect(throws: SafetensorsError.wouldOverwriteInput(path: url.path)) { try copy.write(to: url, overwrite: true) }
        #expect(try SafetensorsFile(contentsOf: url).tensor(named: "x").floats() == [1, 2])
    }

    @Test("a failing producer leaves no file behind")
    func noPartialFile() throws {
        struct Boom: Error {}
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        var writer = SafetensorsWriter()
        writer.add(name: "a", shape: [4], floats: [1, 2, 3, 4])
        writer.add(.init(name: "b", dtype: .f32, shape: [4], source: .producer { _ in throw Boom() }))
        let url = folder.appendingPathComponent("out.safetensors")
        #expect(throws: Boom.self) { try writer.write(to: url) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
    }

    @Test("writer input that does not match its shape is a typed error")
    func invalidWriterInput() throws {
        var writer = SafetensorsWriter()
        writer.add(.init(name: "a", dtype: .f32, shape: [3], source: .bytes([0, 0])))
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("never-\(UUID().uuidString).safetensors")
        #expect(throws: SafetensorsError.invalidTensorForWriting(tensor: "a", reason: "2 bytes given, 12 needed")) { try writer.write(to: url) }
        #expect(!FileManager.default.fileExists(atPath: url.path))
    }
}
