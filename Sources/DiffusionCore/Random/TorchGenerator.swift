import CDiffusionKernels
import Foundation

/// PyTorch's CPU generator, bit for bit: `torch.Generator().manual_seed(seed)` followed by `torch.randn` and
/// `torch.rand` calls on float32 tensors.
///
/// A seed gives the starting noise that diffusers, InvokeAI and ComfyUI draw on the CPU. Successive draws
/// continue the generator's state as torch does (diffusers' img2img draws the VAE sample first, then the
/// noise, from one generator), including the spare normal value torch keeps between small draws.
///
/// torch samples normals two ways, and this type follows both:
/// - fewer than 16 elements: one Box–Muller pair in double precision per two values (53-bit uniforms from
///   two engine outputs each, `log1p`, `sin`, `cos`), the second value of a pair kept for the next draw;
/// - 16 elements or more: one 24-bit float uniform per element, then Box–Muller in float on blocks of 16
///   (`u1 = 1 − x[j]`, `u2 = x[j+8]`); when the count is not a multiple of 16, the last 16 values are drawn
///   again and transformed as one more block.
///
/// The float Box–Muller differs between torch builds: x86-64 processors with AVX2 use a vectorised kernel
/// with its own log/sin/cos polynomials (``NormalKernel/avx2``, the default, reproduced exactly on any
/// processor); builds without it (ARM, `ATEN_CPU_CAPABILITY=default`) call the C library's `logf`, `cosf`,
/// `sinf` (``NormalKernel/scalar``).
public struct TorchGenerator: Sendable, Equatable {
    /// Which of torch's float32 Box–Muller kernels to reproduce for draws of 16 elements or more.
    public enum NormalKernel: String, Sendable, CaseIterable, Codable {
        /// torch on x86-64 with AVX2 (the usual desktop and server case): the default.
        case avx2
        /// torch without AVX2 (ARM processors such as Apple silicon, or `ATEN_CPU_CAPABILITY=default`).
        case scalar
    }

    /// The seed given to ``init(seed:normalKernel:)`` (torch's `initial_seed()`).
    public let initialSeed: UInt64
    /// The kernel used for draws of 16 elements or more.
    public let normalKernel: NormalKernel
    private var engine: MersenneTwister
    /// torch's `next_double_normal_sample_`: the second value of the last double Box–Muller pair.
    private var spareNormal: Double?
    /// The kernel path for ``NormalKernel/avx2`` (nil: the best the processor has; 0: portable). Tests only.
    var cpuLevel: Int32?

    /// The most elements one call draws.
    public static let maximumElementCount = Int(Int32.max)

    /// A generator in the state of `torch.Generator().manual_seed(seed)`.
    ///
    /// torch seeds its Mersenne Twister with the low 32 bits only; a negative Python seed is its 64-bit
    /// two's complement (`UInt64(bitPattern: Int64(seed))`).
    public init(seed: UInt64, normalKernel: NormalKernel = .avx2) {
        initialSeed = seed
        self.normalKernel = normalKernel
        engine = MersenneTwister(seed: seed)
        spareNormal = nil
    }

    /// Standard-normal float32 noise of the given shape: `torch.randn(shape, generator=g)`.
    /// - Throws: ``RandomSourceError/invalidShape(_:)`` for a negative dimension or an overflowing count,
    ///   ``RandomSourceError/tooManyElements(shape:limit:)`` past ``maximumElementCount``.
    public mutating func randn(_ shape: [Int]) throws(RandomSourceError) -> Tensor {
        _ = try RandomSourceError.elementCount(of: shape, limit: Self.maximumElementCount)
        var tensor = Tensor(uninitializedValidShape: shape)
        tensor.withUnsafeMutableBufferPointer { fillNormal($0) }
        return tensor
    }

    /// Uniform float32 noise in [0, 1) of the given shape: `torch.rand(shape, generator=g)`.
    /// - Throws: the same errors as ``randn(_:)``.
    public mutating func rand(_ shape: [Int]) throws(RandomSourceError) -> Tensor {
        _ = try RandomSourceError.elementCount(of: shape, limit: Self.maximumElementCount)
        var tensor = Tensor(uninitializedValidShape: shape)
        tensor.withUnsafeMutableBufferPointer { engine.fillUniformFloat($0) }
        return tensor
    }

    /// Writes standard normals into `buffer` in torch's order (what ``randn(_:)`` returns).
    mutating func fillNormal(_ buffer: UnsafeMutableBufferPointer<Float>) {
        let count = buffer.count
        if count < 16 {
            for i in 0..<count { buffer[i] = Float(nextDoubleNormal()) }
            return
        }
        engine.fillUniformFloat(buffer)
        transform(UnsafeMutableBufferPointer(rebasing: buffer[0..<(count / 16 * 16)]))
        if count % 16 != 0 {
            let tail = UnsafeMutableBufferPointer(rebasing: buffer[(count - 16)...])
            engine.fillUniformFloat(tail)
            transform(tail)
        }
    }

    /// Box–Muller in place on whole blocks of 16 uniforms.
    private func transform(_ blocks: UnsafeMutableBufferPointer<Float>) {
        guard let base = blocks.baseAddress else { return }
        switch normalKernel {
        case .avx2:
            if let level = cpuLevel {
                dk_torch_box_muller16_avx2_at_level(base, blocks.count / 16, level)
            } else {
                dk_torch_box_muller16_avx2(base, blocks.count / 16)
            }
        case .scalar: dk_torch_box_muller16_scalar(base, blocks.count / 16)
        }
    }

    /// One value of `at::normal_distribution<double>(0, 1)`: the spare from the last pair if there is one,
    /// else a new pair from two 53-bit uniforms (`r = √(−2·log1p(−u2))`, `θ = 2π·u1`, returns `r·cos θ` and
    /// keeps `r·sin θ`).
    private mutating func nextDoubleNormal() -> Double {
        if let spare = spareNormal {
            spareNormal = nil
            return spare * 1.0 + 0.0
        }
        let u1 = engine.nextUniformDouble()
        let u2 = engine.nextUniformDouble()
        let r = (-2.0 * Foundation.log1p(-u2)).squareRoot()
        let theta = 2.0 * Double.pi * u1
        spareNormal = r * Foundation.sin(theta)
        return r * Foundation.cos(theta) * 1.0 + 0.0
    }
}
