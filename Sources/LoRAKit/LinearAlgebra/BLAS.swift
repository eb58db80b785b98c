import COpenBLAS

/// Thin, checked wrappers over OpenBLAS. Row-major everywhere; leading dimensions
/// come from the shapes; pointers never leave their closures.
package enum BLAS {
    package static func index(_ n: Int) throws(LinearAlgebraError) -> Int32 {
        guard let v = Int32(exactly: n) else { throw .dimensionTooLarge(n) }
        return v
    }

    /// C[m,n] = alpha · op(A) · op(B) + beta · C, with A stored [m,k] (or [k,m] when
    /// `transposeA`) and B stored [k,n] (or [n,k] when `transposeB`).
    package static func gemm(
        m: Int, n: Int, k: Int,
        alpha: Float,
        a: UnsafePointer<Float>, transposeA: Bool = false,
        b: UnsafePointer<Float>, transposeB: Bool = false,
        beta: Float,
        c: UnsafeMutablePointer<Float>
    ) throws(LinearAlgebraError) {
        let (m32, n32, k32) = (try index(m), try index(n), try index(k))
        guard m > 0, n > 0 else { return }
        cblas_sgemm(
            CblasRowMajor,
            transposeA ? CblasTrans : CblasNoTrans,
            transposeB ? CblasTrans : CblasNoTrans,
            m32, n32, k32, alpha,
            a, transposeA ? m32 : k32,
            b, transposeB ? k32 : n32,
            beta, c, n32)
    }

    /// Array form of ``gemm(m:n:k:alpha:a:transposeA:b:transposeB:beta:c:)`` with shape checks.
    package static func gemm(
        m: Int, n: Int, k: Int, alpha: Float,
        _ a: [Float], transposeA: Bool = false,
        _ b: [Float], transposeB: Bool = false,
        beta: Float, _ c: inout [Float]
    ) throws(LinearAlgebraError) {
        guard a.count == m * k, b.count == k * n, c.count == m * n else {
            throw .shapeMismatch(operation: "gemm", detail: "A \(a.count) B \(b.count) C \(c.count) for m \(m) n \(n) k \(k)")
        }
        if k == 0 {
            if beta != 1 { for i in c.indices { c[i] *= beta } }
            return
        }
        try a.withUnsafeBufferPointer { (pa) throws(LinearAlgebraError) in
            try b.withUnsafeBufferPointer { (pb) throws(LinearAlgebraError) in
                try c.withUnsafeMutableBufferPointer { (pc) throws(LinearAlgebraError) in
                    try gemm(m: m, n: n, k: k, alpha: alpha, a: pa.baseAddress!, transposeA: transposeA,
                             b: pb.baseAddress!, transposeB: transposeB, beta: beta, c: pc.baseAddress!)
                }
            }
        }
    }
}

/// Public knob for the BLAS thread count.
public enum LinearAlgebraSettings {
    /// Sets how many threads OpenBLAS uses when no running task asks for another count (the
    /// `--threads` option). See ``BLASThreads`` for how concurrent tasks share the setting.
    public static func setThreadCount(_ n: Int) { BLASThreads.setDefault(n) }

    /// The number of threads OpenBLAS uses now.
    public static var threadCount: Int { BLASThreads.current }
}
