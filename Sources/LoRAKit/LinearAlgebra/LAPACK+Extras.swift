import COpenBLAS

/// QR and low-rank SVD helpers over LAPACKE, row-major, used by the rank tools.
extension LAPACK {
    /// Thin QR of a row-major [m, n] matrix with `sgeqrf` + `sorgqr`: A = Q · R,
    /// Q [m, k] with orthonormal columns, R [k, n] upper trapezoidal, k = min(m, n).
    package static func qr(_ a: [Float], rows m: Int, columns n: Int) throws(LinearAlgebraError) -> (q: [Float], r: [Float], k: Int) {
        guard a.count == m * n else {
            throw .shapeMismatch(operation: "geqrf", detail: "\(a.count) elements for [\(m), \(n)]")
        }
        let k = min(m, n)
        guard k > 0 else { return ([], [], 0) }
        let (m32, n32, k32) = (try BLAS.index(m), try BLAS.index(n), try BLAS.index(k))
        var work = a
        var tau = [Float](repeating: 0, count: k)
        let info = work.withUnsafeMutableBufferPointer { pa in
            tau.withUnsafeMutableBufferPointer { pt in
                LAPACKE_sgeqrf(LAPACK_ROW_MAJOR, m32, n32, pa.baseAddress, n32, pt.baseAddress)
            }
        }
        guard info == 0 else { throw .lapack(routine: "sgeqrf", info: Int(info)) }
        var r = [Float](repeating: 0, count: k * n)
        for i in 0..<k {
            for j in i..<n { r[i * n + j] = work[i * n + j] }
        }
        // Q occupies the first k columns of the reflector storage (leading dimension n).
        let info2 = work.withUnsafeMutableBufferPointer { pa in
            tau.withUnsafeBufferPointer { pt in
                LAPACKE_sorgqr(LAPACK_ROW_MAJOR, m32, k32, k32, pa.baseAddress, n32, pt.baseAddress)
            }
        }
        guard info2 == 0 else { throw .lapack(routine: "sorgqr", info: Int(info2)) }
        var q = [Float](repeating: 0, count: m * k)
        if k == n {
            q = work
        } else {
            for i in 0..<m {
                for j in 0..<k { q[i * k + j] = work[i * n + j] }
            }
        }
        return (q, r, k)
    }

    /// Thin SVD of the product `up · down` (up [m, r], down [r, n], row-major) without
    /// forming it: QR of `up` and of `downᵀ`, `sgesdd` of the small core R₁·R₂ᵀ, then
    /// U = Q₁·U_c and Vᵀ = V_cᵀ·Q₂ᵀ. Returns k = min(m, r, n) singular triplets, descending;
    /// the product's other singular values are zero.
    package static func svdOfProduct(up: [Float], down: [Float], rows m: Int, rank r: Int, columns n: Int)
        throws(LinearAlgebraError) -> (u: [Float], s: [Float], vt: [Float])
    {
        guard up.count == m * r, down.count == r * n else {
            throw .shapeMismatch(operation: "svd of product", detail: "up \(up.count) down \(down.count) for [\(m), \(r)]·[\(r), \(n)]")
        }
        let (q1, r1, k1) = try qr(up, rows: m, columns: r)
        var downT = [Float](repeating: 0, count: n * r)
        for i in 0..<r {
            for j in 0..<n { downT[j * r + i] = down[i * n + j] }
        }
        let (q2, r2, k2) = try qr(downT, rows: n, columns: r)
        guard k1 > 0, k2 > 0 else { return ([], [], []) }
        // core [k1, k2] = R1 [k1, r] · R2ᵀ (R2 [k2, r])
        let core = try BLAS.product(m: k1, n: k2, k: r, r1, r2, transposeB: true)
        let (uc, s, vtc) = try svd(core, rows: k1, columns: k2)
        let k = s.count
        let u = try BLAS.product(m: m, n: k, k: k1, q1, uc)              // [m, k1]·[k1, k]
        let vt = try BLAS.product(m: k, n: n, k: k2, vtc, q2, transposeB: true)  // [k, k2]·([n, k2])ᵀ
        return (u, s, vt)
    }
}
