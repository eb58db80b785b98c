import COpenBLAS

/// Checked wrappers over LAPACKE, row-major.
package enum LAPACK {
    /// Thin SVD of a row-major [m, n] matrix with `sgesdd`: A = U · diag(S) · Vᵀ,
    /// U [m, k], S [k], Vᵀ [k, n], k = min(m, n). Singular values descend.
    package static func svd(_ a: [Float], rows m: Int, columns n: Int) throws(LinearAlgebraError) -> (u: [Float], s: [Float], vt: [Float]) {
        guard a.count == m * n else {
            throw .shapeMismatch(operation: "gesdd", detail: "\(a.count) elements for [\(m), \(n)]")
        }
        let k = min(m, n)
        guard k > 0 else { return ([], [], []) }
        let (m32, n32, k32) = (try BLAS.index(m), try BLAS.index(n), try BLAS.index(k))
        var work = a
        var s = [Float](repeating: 0, count: k)
        var u = [Float](repeating: 0, count: m * k)
        var vt = [Float](repeating: 0, count: k * n)
        let info = work.withUnsafeMutableBufferPointer { pa in
            s.withUnsafeMutableBufferPointer { ps in
                u.withUnsafeMutableBufferPointer { pu in
                    vt.withUnsafeMutableBufferPointer { pvt in
                        LAPACKE_sgesdd(LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "S")), m32, n32,
                                       pa.baseAddress, n32, ps.baseAddress,
                                       pu.baseAddress, k32, pvt.baseAddress, n32)
                    }
                }
            }
        }
        guard info == 0 else { throw .lapack(routine: "sgesdd", info: Int(info)) }
        return (u, s, vt)
    }
}
