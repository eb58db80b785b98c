import Foundation

/// A seeded, portable generator: SplitMix64 feeding a Box–Muller transform (float64, rounded to float32).
/// Deterministic across platforms, but not the torch or NumPy stream (use ``TorchGenerator`` for that).
public struct SeededRandomSource: RandomSource, Sendable {
    private var state: UInt64
    private var spare: Double?

    public init(seed: UInt64) { state = seed }

    private mutating func nextUInt64() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    private mutating func uniform() -> Double {
        // (0, 1]: never 0, so log is finite.
        (Double(nextUInt64() >> 11) + 1) * 0x1p-53
    }

    public mutating func normal(shape: [Int]) throws(RandomSourceError) -> Tensor {
        let n = try RandomSourceError.elementCount(of: shape)
        var values = [Float]()
        values.reserveCapacity(n)
        while values.count < n {
            if let s = spare { values.append(Float(s)); spare = nil; continue }
            let u1 = uniform(), u2 = uniform()
            let r = (-2 * Foundation.log(u1)).squareRoot()
            values.append(Float(r * cos(2 * Double.pi * u2)))
            spare = r * sin(2 * Double.pi * u2)
        }
        return Tensor(validShape: shape, scalars: values)
    }
}
