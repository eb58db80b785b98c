/// The size of a module's ΔW, known from its factors' shapes before anything is computed,
/// so a small hostile file cannot make the library allocate a huge product.
extension LoRAModule {
    /// The largest ΔW LoRAKit computes for one module (Float32 elements): 1 Gi elements (4 GiB),
    /// far above any Stable Diffusion layer (the largest, SDXL's, hold < 30 M).
    static let maxDeltaElements = 1 << 30

    /// The element count of the unscaled ΔW the factors describe, or nil when the
    /// factors are malformed or the count overflows.
    var naturalElementCount: Int? {
        func product(_ dims: ArraySlice<Int>) -> Int? {
            var n = 1
            for d in dims {
                let (p, o) = n.multipliedReportingOverflow(by: d)
                if o || d < 0 { return nil }
                n = p
            }
            return n
        }
        func shape(_ role: TensorRole) -> [Int]? { tensors[role]?.shape }
        func lowRankPair(_ a: TensorRole, _ b: TensorRole) -> Int? {
            guard let sa = shape(a), let sb = shape(b), sa.count >= 1, sb.count >= 2 else { return nil }
            return product([sa[0]] + sb.dropFirst())
        }
        func tuckerCount(t: TensorRole, a: TensorRole, b: TensorRole) -> Int? {
            guard let st = shape(t), let sa = shape(a), let sb = shape(b), st.count == 4, sa.count == 2, sb.count == 2 else { return nil }
            return product([sa[1], sb[1], st[2], st[3]])
        }
        switch family {
        case .lora, .locon:
            guard let up = shape(.up), let down = shape(.down), up.count >= 1, down.count >= 2 else { return nil }
            if let mid = shape(.mid), mid.count == 4 { return product([up[0], down[1], mid[2], mid[3]]) }
            return product([up[0]] + down.dropFirst())
        case .loha:
            if tensors[.hadaT1] != nil { return tuckerCount(t: .hadaT1, a: .hadaW1A, b: .hadaW1B) }
            return lowRankPair(.hadaW1A, .hadaW1B)
        case .lokr:
            let w1 = shape(.lokrW1).flatMap { product($0[...]) } ?? lowRankPair(.lokrW1A, .lokrW1B)
            let w2 = shape(.lokrW2).flatMap { product($0[...]) }
                ?? (tensors[.lokrT2] != nil ? tuckerCount(t: .lokrT2, a: .lokrW2A, b: .lokrW2B) : lowRankPair(.lokrW2A, .lokrW2B))
            guard let w1, let w2 else { return nil }
            return product([w1, w2])
        case .full:
            return tensors[.diff]?.elementCount
        case .norm:
            return tensors[.wNorm]?.elementCount
        case .ia3:
            return tensors[.ia3Weight]?.elementCount
        }
    }

    /// Refuses a ΔW that would not fit `shape`, or (with no shape) one over the size limit,
    /// before it is computed.
    func checkDeltaSize(fitting shape: [Int]?) throws(LoRAError) {
        guard let n = naturalElementCount else { return }  // malformed factors fail in the math with their own error
        if let shape {
            let want = shape.reduce(1, *)
            if n != want { throw .shapeMismatch(target: target.description, expected: shape, actual: [n]) }
        } else if n > Self.maxDeltaElements {
            throw .unsupported(target: target.description, reason: "ΔW of \(n) elements exceeds the \(Self.maxDeltaElements)-element limit")
        }
    }
}
