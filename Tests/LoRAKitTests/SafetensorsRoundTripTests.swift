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

    @Test("F32 → BF16 rounds as torch does (random bit patterns, ties, overflow, subnormals, NaN)")
    func bfloat16AgainstTorch() throws {
        let table = try SafetensorsFile(contentsOf: Fixtures.url("bf16_from_f32.safetensors", subdirectory: "safetensors"))
        let input = try table.tensor(named: "f32"), torch = try table.tensor(named: "bf16")
        #expect(input.dtype == .f32 && torch.dtype == .bf16)
        let values = input.floats()
        #expect(values.count == 4096 + 82)
        let want: [UInt16] = torch.withUnsafeBytes { raw in (0..<raw.count / 2).map { raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self) } }
        try #require(want.count == values.count)
        // The encoder the writer uses, over the whole table at once.
        var encoded = [UInt8](repeating: 0, count: values.count * 2)
        values.withUnsafeBufferPointer { v in encoded.withUnsafeMutableBytes { ElementConversion.encode(v, as: .bf16, into: $0) } }
        var nans = 0, mismatches = 0
        for i in values.indices {
            let got = UInt16(encoded[2 * i]) | UInt16(encoded[2 * i + 1]) << 8
            #expect(got == ElementConversion.bfloat16Bits(values[i]))
            if values[i].isNaN {
                // torch writes NaN as 0xFFFF (vectorised CPU path) or 0x7FC0 (scalar): both quiet NaNs.
                nans += 1
                #expect(got & 0x7F80 == 0x7F80 && got & 0x0040 != 0, "NaN \(values[i].bitPattern) → \(got)")
                #expect(want[i] & 0x7F80 == 0x7F80 && want[i] & 0x007F != 0)
            } else if got != want[i] {
                mismatches += 1
                if mismatches <= 10 { Issue.record("f32 bits \(String(values[i].bitPattern, radix: 16)): got \(String(got, radix: 16)), torch \(String(want[i], radix: 16))") }
            }
        }
        #expect(mismatches == 0)
        #expect(nans >= 8)
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
