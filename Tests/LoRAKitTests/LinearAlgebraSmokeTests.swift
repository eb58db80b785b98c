import Testing
@testable import LoRAKit

@Suite("OpenBLAS and LAPACKE link and compute")
struct LinearAlgebraSmokeTests {
    @Test("cblas_sgemm multiplies row-major matrices")
    func gemm() throws {
        // [2,3] · [3,2]
        let a: [Float] = [1, 2, 3, 4, 5, 6]
        let b: [Float] = [7, 8, 9, 10, 11, 12]
        var c = [Float](repeating: 1, count: 4)
        try BLAS.gemm(m: 2, n: 2, k: 3, alpha: 1, a, b, beta: 1, &c)
        #expect(c == [59, 65, 140, 155])
        var ct = [Float](repeating: 0, count: 9)
        try BLAS.gemm(m: 3, n: 3, k: 2, alpha: 2, a, transposeA: true, a, beta: 0, &ct)
        #expect(ct == [34, 44, 54, 44, 58, 72, 54, 72, 90])
    }

    @Test("gemm rejects mismatched shapes")
    func gemmShapes() {
        var c = [Float](repeating: 0, count: 4)
        #expect(throws: LinearAlgebraError.self) { try BLAS.gemm(m: 2, n: 2, k: 3, alpha: 1, [1], [1], beta: 0, &c) }
    }

    @Test("LAPACKE_sgesdd factorises and reconstructs")
    func svd() throws {
        let a: [Float] = [3, 1, 1, -1, 3, 1]  // [2,3]
        let (u, s, vt) = try LAPACK.svd(a, rows: 2, columns: 3)
        #expect(s.count == 2)
        #expect(abs(s[0] - Float(12).squareRoot()) < 1e-5 && abs(s[1] - Float(10).squareRoot()) < 1e-5)
        var us = u
        for r in 0..<2 { for c in 0..<2 { us[r * 2 + c] *= s[c] } }
        var back = [Float](repeating: 0, count: 6)
        try BLAS.gemm(m: 2, n: 3, k: 2, alpha: 1, us, vt, beta: 0, &back)
        for (x, y) in zip(back, a) { #expect(abs(x - y) < 1e-5) }
    }
}
