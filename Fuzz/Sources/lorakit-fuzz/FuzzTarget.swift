import CFuzzerDriver
import LoRAKit

/// The executable's entry point (SwiftPM links `main` to `<module>_main`): hands over to libFuzzer.
@_cdecl("lorakit_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return lorakit_run_fuzzer(&argc, &argv) { data, size in fuzzOneInput(data, size) }
}

/// One fuzz input: a whole `.safetensors` file.
///
/// The input goes through the header parser; whatever is accepted must be readable in full, and then
/// through the LoRA reader (key parsing, metadata, trigger words) and, for modules small enough, through
/// the ΔW and patch paths. Every failure must be a thrown error: a trap, an out-of-bounds access, a leak
/// or a hang is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    guard let file = try? SafetensorsFile(bytes: bytes) else { return 0 }
    var checksum: UInt8 = 0
    for info in file.tensors {
        let view = file.tensor(info)
        checksum &+= view.bytes().last ?? 0
        if info.elementCount <= 1 << 10 { checksum &+= UInt8(truncatingIfNeeded: view.floats().count) }
    }
    _ = file.summary
    guard let lora = try? LoRAFile(file: file) else { return 0 }
    _ = lora.triggerWords(limit: 5)
    _ = lora.trainingSummary
    _ = lora.baseModel
    for module in lora.modules.prefix(16) {
        _ = module.tensorShapes
        // A weight of the shape the factors imply, when it is small.
        guard let factors = module.lowRankFactors, let rows = factors.upShape.first,
              factors.downShape.count >= 2 else { continue }
        let shape = [rows] + factors.downShape.dropFirst()
        let count = shape.reduce(1) { $0.multipliedReportingOverflow(by: max($1, 0)).overflow ? Int.max : $0 * max($1, 0) }
        guard count > 0, count <= 1 << 12 else { continue }
        var weight = [Float](repeating: 0.5, count: count)
        try? module.apply(toWeight: &weight, shape: shape, strength: 0.7)
        _ = try? module.deltaWeight(shape: shape)
    }
    keep(checksum)
    return 0
}

/// Keeps the decoded bytes observable so the optimiser cannot drop the reads.
@inline(never)
func keep(_ value: UInt8) { if value == 0xA5 { sink &+= 1 } }
nonisolated(unsafe) var sink = 0

