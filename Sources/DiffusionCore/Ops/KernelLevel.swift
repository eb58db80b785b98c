import CDiffusionKernels

/// The instruction-set path the C kernels take, chosen at run time (never at build time).
package enum KernelLevel: Int, Sendable, CaseIterable {
    /// Portable C, any processor.
    case portable = 0
    /// AVX2 + FMA + F16C.
    case avx2 = 1
    /// AVX-512F: the normalisations, GEGLU, softmax, SiLU, attention's score and softmax steps, the Winograd
    /// transforms and the small-column product have 16-lane paths; the other kernels take their AVX2 paths.
    case avx512 = 2

    /// The path in use now.
    package static var current: KernelLevel { KernelLevel(rawValue: Int(dk_cpu_level())) ?? .portable }

    /// The best path this processor supports.
    package static var best: KernelLevel { KernelLevel(rawValue: Int(dk_cpu_best_level())) ?? .portable }

    /// Caps the path at `level` (nil: the best the processor has), process-wide; for tests and benchmarks.
    package static func setMaximum(_ level: KernelLevel?) { dk_cpu_set_max_level(Int32(level?.rawValue ?? -1)) }
}
