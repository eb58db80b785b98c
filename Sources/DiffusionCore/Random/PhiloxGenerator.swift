import Foundation

/// The noise `torch.randn(shape, device="cuda")` gives on an NVIDIA GPU, computed on the CPU: AUTOMATIC1111's
/// default random number source ("GPU" / `nv`), as its `modules/rng_philox.py` computes it.
///
/// Element `i` of the `n`-th draw (n counts from 0 for each generator) is Philox4x32-10 of the counter
/// `(n, 0, i, 0)` under the key `(seed mod 2³², seed ÷ 2³²)`; the first two output words `a, b` become
/// `u = a·2⁻³² + 2⁻³³`, `v = (b·2⁻³² + 2⁻³³)·2π` (float32 constants, double arithmetic) and the value is
/// `Float(√(−2·log u) · sin v)`.
///
/// This is bit for bit what A1111's CPU emulation gives. A GPU computes the same Box–Muller in float32 with
/// CUDA's own `logf`/`sinf`, so the GPU's values differ from these by a few float32 steps (at most 2.4e-7
/// for A1111's documented seed-0 example): the same picture, not the same bits.
public struct PhiloxGenerator: Sendable, Equatable {
    /// The seed (the whole 64 bits form the key).
    public let seed: UInt64
    /// The number of draws made so far; the next draw uses it as the counter's first word.
    public private(set) var offset: UInt32

    /// The most elements one draw can hold (the element index is one 32-bit counter word).
    public static let maximumElementCount = Int(UInt32.max)

    /// A generator as A1111 creates one per image seed.
    public init(seed: UInt64) {
        self.seed = seed
        offset = 0
    }

    /// Standard-normal float32 noise of the given shape; advances ``offset`` by one.
    /// - Throws: ``RandomSourceError/invalidShape(_:)`` for a negative dimension or an overflowing count,
    ///   ``RandomSourceError/tooManyElements(shape:limit:)`` past ``maximumElementCount``.
    public mutating func randn(_ shape: [Int]) throws(RandomSourceError) -> Tensor {
        let count = try RandomSourceError.elementCount(of: shape, limit: Self.maximumElementCount)
        let key = SIMD2<UInt32>(UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32))
        let draw = offset
        offset &+= 1
        // A1111's constants: float32 2.3283064e-10 (≈ 2⁻³²) and float32(2.3283064e-10 · 6.2831855), each
        // widened to double; the half-steps are halved in float32 (exact).
        let inverse: Double = 2.3283064e-10, twoPi: Double = 6.2831855
        let scaleF = Float(inverse), scale2piF = Float(inverse * twoPi)
        let scale = Double(scaleF), half = Double(scaleF / 2)
        let scale2pi = Double(scale2piF), half2pi = Double(scale2piF / 2)
        var tensor = Tensor(uninitializedValidShape: shape)
        tensor.withUnsafeMutableBufferPointer { out in
            for i in 0..<count {
                let words = Philox4x32.block(counter: SIMD4(draw, 0, UInt32(truncatingIfNeeded: i), 0), key: key)
                let u = Double(words.x) * scale + half
                let v = Double(words.y) * scale2pi + half2pi
                let s = (-2.0 * Foundation.log(u)).squareRoot()
                out[i] = Float(s * Foundation.sin(v))
            }
        }
        return tensor
    }
}
