import Foundation
import Testing
@testable import LoRAKit

/// Against files written by Python `safetensors` 0.8.0 / torch 2.15
/// (Scripts/fixtures/safetensors_fixtures.py).
@Suite("Safetensors against the Python reference")
struct SafetensorsReferenceTests {
    static let dtypeNames = DType.allCases.map(\.rawValue)

    @Test("every dtype decodes to Float bit-exactly as torch's .float()", arguments: dtypeNames)
    func decodingMatchesTorch(name: String) throws {
        let file = try SafetensorsFile(contentsOf: Fixtures.url("dtypes.safetensors", subdirectory: "safetensors"))
        let actual = try file.tensor(named: name).floats()
        let expected = try file.tensor(named: "expected." + name).floats()
        #expect(actual.count == expected.count)
        for (i, (a, e)) in zip(actual, expected).enumerated() where !(a.bitPattern == e.bitPattern || (a.isNaN && e.isNaN)) {
            Issue.record("\(name)[\(i)]: got \(a) (0x\(String(a.bitPattern, radix: 16))), torch \(e) (0x\(String(e.bitPattern, radix: 16)))")
            break
        }
    }

    @Test("scalar and zero-size tensors from Python")
    func scalarAndEmpty() throws {
        let file = try SafetensorsFile(contentsOf: Fixtures.url("dtypes.safetensors", subdirectory: "safetensors"))
        #expect(try file.tensor(named: "scalar").floats() == [2.5])
        #expect(file.info(named: "empty")?.shape == [0, 3])
        #expect(file.metadata?["purpose"] == "dtype decoding")
    }

    @Test("the writer reproduces Python's file byte for byte")
    func writerMatchesPython() throws {
        let referenceURL = Fixtures.url("writer_reference.safetensors", subdirectory: "safetensors")
        let reference = try SafetensorsFile(contentsOf: referenceURL)
        var writer = SafetensorsWriter(metadata: reference.metadata)
        // Add in reverse name order so the writer must do the ordering itself.
        for info in reference.tensors.sorted(by: { $0.name > $1.name }) {
            writer.add(.init(name: info.name, dtype: info.dtype, shape: info.shape, source: .bytes(try reference.tensor(named: info.name).bytes())))
        }
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("swift.safetensors")
        try writer.write(to: url)
        let ours = try Data(contentsOf: url)
        let theirs = try Data(contentsOf: referenceURL)
        #expect(ours == theirs, "Swift output differs from Python's (\(ours.count) vs \(theirs.count) bytes)")
    }

    @Test("files Python rejects are rejected", arguments: ["header_past_eof", "overlapping", "size_mismatch", "polyglot_tail", "not_json"])
    func hostileFilesRejected(name: String) throws {
        let url = Fixtures.url("hostile_\(name).safetensors", subdirectory: "safetensors")
        #expect(throws: SafetensorsError.self) { try SafetensorsFile(contentsOf: url) }
    }
}
