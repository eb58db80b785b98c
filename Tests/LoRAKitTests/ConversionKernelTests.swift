import CLoRAKitKernels
import Testing
@testable import LoRAKit

/// The C half-float kernels (F16C when present, portable otherwise) against Swift's
/// own `Float16` conversions, which follow IEEE 754 round-to-nearest-even.
@Suite("Half-float conversion kernels")
struct ConversionKernelTests {
    @Test("every half bit pattern widens exactly, on both paths")
    func widening() {
        let bits = (0...UInt16.max).map { $0 }
        var fast = [Float](repeating: 0, count: bits.count)
        var portable = [Float](repeating: 0, count: bits.count)
        bits.withUnsafeBufferPointer { src in
            lorakit_f16_to_f32(src.baseAddress!, &fast, bits.count)
            lorakit_f16_to_f32_portable(src.baseAddress!, &portable, bits.count)
        }
        for (i, b) in bits.enumerated() {
            let want = Float(Float16(bitPattern: b))
            let same = { (x: Float) in x.bitPattern == want.bitPattern || (x.isNaN && want.isNaN) }
            if !same(fast[i]) || !same(portable[i]) {
                Issue.record("0x\(String(b, radix: 16)): fast \(fast[i]), portable \(portable[i]), Swift \(want)")
                return
            }
        }
    }

    @Test("narrowing rounds to nearest even, on both paths")
    func narrowing() {
        var values: [Float] = [0, -0.0, 1, -1, 65504, 65519.99, 65520, -65520, 1e-8, 2.98e-8, 2.9802322e-8, 5.96e-8,
                               6.1035156e-5, 6.1e-5, .infinity, -.infinity, .nan, 1.0009765625, 1.00048828125,
                               1.000732421875, 3.14159274, 1e10, -1e-10, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
        var state: UInt32 = 0x9E37_79B9
        for _ in 0..<200_000 {
            state = state &* 1_664_525 &+ 1_013_904_223
            values.append(Float(bitPattern: state))
        }
        var fast = [UInt16](repeating: 0, count: values.count)
        var portable = [UInt16](repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { src in
            lorakit_f32_to_f16(src.baseAddress!, &fast, values.count)
            lorakit_f32_to_f16_portable(src.baseAddress!, &portable, values.count)
        }
        for (i, v) in values.enumerated() {
            let want = Float16(v)
            let ok = { (b: UInt16) in b == want.bitPattern || (want.isNaN && Float16(bitPattern: b).isNaN) }
            if !ok(fast[i]) || !ok(portable[i]) {
                Issue.record("\(v) (0x\(String(v.bitPattern, radix: 16))): fast 0x\(String(fast[i], radix: 16)), portable 0x\(String(portable[i], radix: 16)), Swift 0x\(String(want.bitPattern, radix: 16))")
                return
            }
        }
    }
}
