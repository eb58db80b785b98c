import Foundation

/// Where a stochastic scheduler step gets its Gaussian noise.
///
/// Schedulers never create randomness themselves: the caller passes a source to every `step` call.
/// Tests inject the exact noise diffusers drew (``ReplayRandomSource``); applications choose a generator.
public protocol RandomSource {
    /// Draws standard-normal noise with the given shape.
    /// - Throws: ``SchedulerError/randomSourceExhausted(requestedShape:)`` if the source cannot supply it.
    mutating func normal(shape: [Int]) throws(SchedulerError) -> Tensor
}

/// A seeded, portable generator: SplitMix64 feeding a Box–Muller transform (float64, rounded to float32).
/// Deterministic across platforms, but not the torch/NumPy stream.
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

    public mutating func normal(shape: [Int]) throws(SchedulerError) -> Tensor {
        let n = shape.reduce(1, *)
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

/// Returns pre-recorded noise tensors in order (e.g. the noise diffusers drew in a reference run).
public struct ReplayRandomSource: RandomSource, Sendable {
    public private(set) var remaining: [Tensor]
    /// The number of tensors handed out so far.
    public private(set) var drawn = 0

    public init(_ tensors: [Tensor]) { remaining = tensors }

    public mutating func normal(shape: [Int]) throws(SchedulerError) -> Tensor {
        guard !remaining.isEmpty else { throw .randomSourceExhausted(requestedShape: shape) }
        let t = remaining.removeFirst()
        guard t.count == shape.reduce(1, *) else { throw .shapeMismatch(expected: shape, actual: t.shape) }
        drawn += 1
        do { return try t.reshaped(shape) } catch { throw .shapeMismatch(expected: shape, actual: t.shape) }
    }
}

/// A source for deterministic schedulers: any draw is an error.
public struct NoRandomSource: RandomSource, Sendable {
    public init() {}
    public mutating func normal(shape: [Int]) throws(SchedulerError) -> Tensor {
        throw .randomSourceExhausted(requestedShape: shape)
    }
}
