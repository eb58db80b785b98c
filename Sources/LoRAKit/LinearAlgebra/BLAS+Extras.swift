import COpenBLAS

/// Conveniences over ``BLAS`` used by the LoRA ΔW math: products into fresh
/// arrays, batched products over slices, and `y += α·x`.
extension BLAS {
    /// `op(A) · op(B)` (`[m, n]`) into a new array, scaled by `alpha`.
    /// - Throws: ``LinearAlgebraError/shapeMismatch(operation:detail:)`` when the counts do not fit.
    package static func product(
        m: Int, n: Int, k: Int, alpha: Float = 1,
        _ a: [Float], transposeA: Bool = false,
        _ b: [Float], transposeB: Bool = false
    ) throws(LinearAlgebraError) -> [Float] {
        var c = [Float](repeating: 0, count: m * n)
        try gemm(m: m, n: n, k: k, alpha: alpha, a, transposeA: transposeA, b, transposeB: transposeB, beta: 0, &c)
        return c
    }

    /// For each `i` in `0..<batch`: `C_i = op(A) · B_i`, where `B_i` is the i-th `[k, n]`
    /// slice of `b` and `C_i` the i-th `[m, n]` slice of the result.
    package static func batchedProduct(
        batch: Int, m: Int, n: Int, k: Int,
        _ a: [Float], transposeA: Bool,
        _ b: [Float]
    ) throws(LinearAlgebraError) -> [Float] {
        guard a.count == m * k, b.count == batch * k * n else {
            throw .shapeMismatch(operation: "batched gemm", detail: "A \(a.count) B \(b.count) for batch \(batch) m \(m) n \(n) k \(k)")
        }
        var c = [Float](repeating: 0, count: batch * m * n)
        guard batch > 0, m > 0, n > 0, k > 0 else { return c }
        let result: Result<Void, LinearAlgebraError> = a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    Result { () throws(LinearAlgebraError) in
                        for i in 0..<batch {
                            try gemm(m: m, n: n, k: k, alpha: 1, a: pa.baseAddress!, transposeA: transposeA,
                                     b: pb.baseAddress! + i * k * n, beta: 0, c: pc.baseAddress! + i * m * n)
                        }
                    }
                }
            }
        }
        try result.get()
        return c
    }

    /// `y += alpha · x` (`cblas_saxpy`).
    package static func axpy(_ alpha: Float, _ x: [Float], _ y: inout [Float]) throws(LinearAlgebraError) {
        guard x.count == y.count else {
            throw .shapeMismatch(operation: "axpy", detail: "x \(x.count) y \(y.count)")
        }
        let n = try index(x.count)
        guard n > 0 else { return }
        x.withUnsafeBufferPointer { px in
            y.withUnsafeMutableBufferPointer { py in
                cblas_saxpy(n, alpha, px.baseAddress!, 1, py.baseAddress!, 1)
            }
        }
    }

    /// `x *= alpha` (`cblas_sscal`).
    package static func scale(_ x: inout [Float], by alpha: Float) throws(LinearAlgebraError) {
        let n = try index(x.count)
        guard n > 0, alpha != 1 else { return }
        x.withUnsafeMutableBufferPointer { px in cblas_sscal(n, alpha, px.baseAddress!, 1) }
    }
}
