/// One pure ΔW function per family (NUMERICS §1.2–1.4), on decoded Float32
/// tensors. Every matrix product goes through `cblas_sgemm` (``BLAS``); a result's
/// "natural" shape is returned with it and fitted to the target weight by the caller.
enum DeltaMath {
    /// Values with their row-major shape (a ΔW, a decoded factor); not a tensor type of its own.
    typealias Shaped = (values: [Float], shape: [Int])

    static func count(_ shape: ArraySlice<Int>) -> Int { shape.reduce(1, *) }

    /// LoRA / LoCon: `reshape(flat(U) · flat(D'), …)`, with `D' = D` or, with a Tucker
    /// mid `T (r_u, r_d, kh, kw)`, `D'[a,i,u,v] = Σ_b T[a,b,u,v] D[b,i]`.
    static func lowRank(up: Shaped, down: Shaped, mid: Shaped?, target: String) throws(LoRAError) -> Shaped {
        guard up.shape.count >= 2, down.shape.count >= 2 else {
            throw .invalidTensor(key: target, reason: "up/down must have at least 2 dimensions")
        }
        let out = up.shape[0]
        let rankUp = count(up.shape.dropFirst())
        var d = down
        if let mid {
            guard mid.shape.count == 4, mid.shape[0] == rankUp, mid.shape[1] == down.shape[0],
                  count(down.shape.dropFirst(2)) == 1 else {
                throw .invalidTensor(key: target, reason: "lora_mid \(LoRAError.format(mid.shape)) does not fit up \(LoRAError.format(up.shape)) / down \(LoRAError.format(down.shape))")
            }
            let rd = down.shape[0], inWidth = down.shape[1], uv = mid.shape[2] * mid.shape[3]
            // For each a: D'[a] (in × uv) = Dᵀ (in × r_d) · T[a] (r_d × uv).
            let values = try la { () throws(LinearAlgebraError) in
                try BLAS.batchedProduct(batch: rankUp, m: inWidth, n: uv, k: rd, down.values, transposeA: true, mid.values)
            }
            d = (values, [rankUp, inWidth, mid.shape[2], mid.shape[3]])
        }
        guard d.shape[0] == rankUp else {
            throw .invalidTensor(key: target, reason: "up \(LoRAError.format(up.shape)) and down \(LoRAError.format(down.shape)) ranks differ")
        }
        let inner = count(d.shape.dropFirst())
        let values = try la { () throws(LinearAlgebraError) in
            try BLAS.product(m: out, n: inner, k: rankUp, up.values, d.values)
        }
        return (values, [out] + Array(d.shape.dropFirst()))
    }

    /// `R[p,q,u,v] = Σ_{i,j} t[i,j,u,v] · a[i,p] · b[j,q]` (Tucker / CP rebuild of LoHa and LoKr).
    static func tucker(t: Shaped, a: Shaped, b: Shaped, target: String) throws(LoRAError) -> Shaped {
        guard t.shape.count == 4, a.shape.count == 2, b.shape.count == 2,
              a.shape[0] == t.shape[0], b.shape[0] == t.shape[1] else {
            throw .invalidTensor(key: target, reason: "Tucker core \(LoRAError.format(t.shape)) does not fit \(LoRAError.format(a.shape)) / \(LoRAError.format(b.shape))")
        }
        let (r1, r2, uv) = (t.shape[0], t.shape[1], t.shape[2] * t.shape[3])
        let (p, q) = (a.shape[1], b.shape[1])
        let values = try la { () throws(LinearAlgebraError) in
            // Y_i (q × uv) = bᵀ (q × r2) · t[i] (r2 × uv), stacked as (r1, q·uv).
            let y = try BLAS.batchedProduct(batch: r1, m: q, n: uv, k: r2, b.values, transposeA: true, t.values)
            // R (p × q·uv) = aᵀ (p × r1) · Y (r1 × q·uv).
            return try BLAS.product(m: p, n: q * uv, k: r1, a.values, transposeA: true, y)
        }
        return (values, [p, q, t.shape[2], t.shape[3]])
    }

    /// `A · flat(B)` for a low-rank pair stored `(out, r)` and `(r, …)`.
    static func pair(_ a: Shaped, _ b: Shaped, target: String) throws(LoRAError) -> Shaped {
        guard a.shape.count == 2, b.shape.count >= 2, a.shape[1] == b.shape[0] else {
            throw .invalidTensor(key: target, reason: "factors \(LoRAError.format(a.shape)) and \(LoRAError.format(b.shape)) do not multiply")
        }
        let n = count(b.shape.dropFirst())
        let values = try la { () throws(LinearAlgebraError) in
            try BLAS.product(m: a.shape[0], n: n, k: a.shape[1], a.values, b.values)
        }
        return (values, [a.shape[0]] + Array(b.shape.dropFirst()))
    }

    /// LoHa: `(w1a·w1b) ⊙ (w2a·w2b)`, or the Tucker form when `t1`, `t2` are given.
    static func hadamard(w1a: Shaped, w1b: Shaped, w2a: Shaped, w2b: Shaped, t1: Shaped?, t2: Shaped?, target: String) throws(LoRAError) -> Shaped {
        let p1: Shaped, p2: Shaped
        if let t1, let t2 {
            p1 = try tucker(t: t1, a: w1a, b: w1b, target: target)
            p2 = try tucker(t: t2, a: w2a, b: w2b, target: target)
        } else {
            p1 = try pair(w1a, w1b, target: target)
            p2 = try pair(w2a, w2b, target: target)
        }
        guard p1.values.count == p2.values.count else {
            throw .invalidTensor(key: target, reason: "LoHa products \(LoRAError.format(p1.shape)) and \(LoRAError.format(p2.shape)) differ")
        }
        var values = p1.values
        for i in values.indices { values[i] *= p2.values[i] }
        return (values, p1.shape)
    }

    /// Kronecker product `W1 (a, c) ⊗ W2 (b, d, …)` → `(a·b, c·d, …)`:
    /// `ΔW[i·b+p, j·d+q, k] = W1[i,j] · W2[p,q,k]`.
    static func kronecker(_ w1: Shaped, _ w2: Shaped, target: String) throws(LoRAError) -> Shaped {
        let w1Tail = count(w1.shape.dropFirst(2))
        guard w1.shape.count >= 2, w1Tail == 1, w2.shape.count >= 2 else {
            throw .invalidTensor(key: target, reason: "LoKr factors \(LoRAError.format(w1.shape)) and \(LoRAError.format(w2.shape)) are not matrices")
        }
        let (a, c) = (w1.shape[0], w1.shape[1])
        let (b, d) = (w2.shape[0], w2.shape[1])
        let k = count(w2.shape.dropFirst(2))
        let rowLength = c * d * k
        var out = [Float](repeating: 0, count: a * b * rowLength)
        for i in 0..<a {
            for j in 0..<c {
                let s = w1.values[i * c + j]
                for p in 0..<b {
                    let dst = (i * b + p) * rowLength + j * d * k
                    let src = p * d * k
                    for e in 0..<(d * k) { out[dst + e] = s * w2.values[src + e] }
                }
            }
        }
        return (out, [a * b, c * d] + Array(w2.shape.dropFirst(2)))
    }

    /// Runs a BLAS step, mapping its error into ``LoRAError``.
    static func la<T>(_ body: () throws(LinearAlgebraError) -> T) throws(LoRAError) -> T {
        do { return try body() } catch { throw .linearAlgebra(error) }
    }
}
