import CDiffusionKernels

/// The 32-bit Mersenne Twister (MT19937) as PyTorch's CPU generator runs it (`at::mt19937`).
///
/// Seeding uses the low 32 bits of the seed, as torch does: `manual_seed(s)` and `manual_seed(s + 2^32)`
/// give the same stream.
public struct MersenneTwister: Sendable, Equatable {
    /// The 624-word state.
    private var state: [UInt32]
    /// The position of the next unused state word (624 = regenerate first).
    private var index: Int32

    /// A generator in the state `at::mt19937(seed)` starts from.
    public init(seed: UInt64) {
        var words = [UInt32](repeating: 0, count: Int(DK_MT19937_N))
        words.withUnsafeMutableBufferPointer { dk_mt19937_seed($0.baseAddress, UInt32(truncatingIfNeeded: seed)) }
        state = words
        index = Int32(DK_MT19937_N)
    }

    /// The next tempered 32-bit output (torch's `random()`).
    public mutating func next() -> UInt32 {
        var out: UInt32 = 0
        withUnsafeMutablePointer(to: &out) { fill(UnsafeMutableBufferPointer(start: $0, count: 1)) }
        return out
    }

    /// Two outputs joined, the first in the high half (torch's `random64()`).
    public mutating func next64() -> UInt64 {
        var pair: (UInt32, UInt32) = (0, 0)
        withUnsafeMutableBytes(of: &pair) { raw in
            fill(UnsafeMutableBufferPointer(start: raw.baseAddress!.assumingMemoryBound(to: UInt32.self), count: 2))
        }
        return UInt64(pair.0) << 32 | UInt64(pair.1)
    }

    /// Writes the next `buffer.count` outputs.
    public mutating func fill(_ buffer: UnsafeMutableBufferPointer<UInt32>) {
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return }
        state.withUnsafeMutableBufferPointer { s in dk_mt19937_next(s.baseAddress, &index, base, buffer.count) }
    }

    /// Writes `buffer.count` float uniforms in [0, 1), one output each: its low 24 bits times 2⁻²⁴
    /// (torch's `uniform_real_distribution<float>(0, 1)`).
    public mutating func fillUniformFloat(_ buffer: UnsafeMutableBufferPointer<Float>) {
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return }
        state.withUnsafeMutableBufferPointer { s in dk_mt19937_uniform_float(s.baseAddress, &index, base, buffer.count) }
    }

    /// A double uniform in [0, 1) from one `next64()`: its low 53 bits times 2⁻⁵³
    /// (torch's `uniform_real_distribution<double>(0, 1)`).
    public mutating func nextUniformDouble() -> Double {
        Double(next64() & ((1 << 53) - 1)) * 0x1p-53
    }
}
