/// One patched layer of a LoRA file: its target, family, rank, alpha, scale and
/// the tensors that define it.
///
/// Tensors stay in the mapped file (``TensorView``s) until a ΔW is asked for, so
/// parsing a file costs header time only.
///
/// ```swift
/// let lora = try LoRAFile(contentsOf: url)
/// for module in lora.modules where module.target.component == .unet {
///     var w: [Float] = …                       // the base weight, shape `shape`
///     try module.apply(toWeight: &w, shape: shape, strength: 0.8)
/// }
/// ```
public struct LoRAModule: Sendable {
    /// The layer this module patches.
    public let target: ModuleTarget
    /// The algorithm (DoRA is flagged separately by ``isDoRA``).
    public let family: AdapterFamily
    /// The rank the scale divides by (`nil` where the family has none: full, IA³, norm, LoKr with two full factors).
    public let rank: Int?
    /// The stored alpha (`nil` when absent, or stored as 0, or not used by the family).
    public let alpha: Float?
    /// The file's own scale `s`: α/r, 1 when α is missing or 0, or the `.scale` tensor when present.
    public let scale: Float
    /// Whether a DoRA magnitude (`dora_scale` / `lora_magnitude_vector`) renormalises the patched weight.
    public let isDoRA: Bool
    /// The file's keys that make up this module, sorted.
    public let sourceKeys: [String]

    let tensors: [TensorRole: TensorView]
    /// IA³: whether the vector scales input columns (`on_input = 1`) rather than output rows.
    let ia3OnInput: Bool

    init(target: ModuleTarget, family: AdapterFamily, rank: Int?, alpha: Float?, scale: Float, isDoRA: Bool,
         sourceKeys: [String], tensors: [TensorRole: TensorView], ia3OnInput: Bool = false) {
        self.target = target
        self.family = family
        self.rank = rank
        self.alpha = alpha
        self.scale = scale
        self.isDoRA = isDoRA
        self.sourceKeys = sourceKeys
        self.tensors = tensors
        self.ia3OnInput = ia3OnInput
    }

    /// Whether the module changes the layer's weight (false for a norm or full module with only a bias delta).
    public var patchesWeight: Bool {
        switch family {
        case .full: tensors[.diff] != nil
        case .norm: tensors[.wNorm] != nil
        default: true
        }
    }

    /// Whether the module changes the layer's bias (`diff_b`, `b_norm`).
    public var patchesBias: Bool { tensors[.diffB] != nil || tensors[.bNorm] != nil }

    /// Whether a LoCon module carries a Tucker `lora_mid`.
    public var hasMid: Bool { tensors[.mid] != nil }

    /// The shape of the DoRA magnitude, when there is one.
    public var doraScaleShape: [Int]? { tensors[.doraScale]?.shape }

    /// The shapes of the module's tensors, by source key.
    public var tensorShapes: [String: [Int]] {
        var out: [String: [Int]] = [:]
        for view in tensors.values { out[view.name] = view.shape }
        return out
    }

    /// The up and down factors of a plain LoRA / LoCon (no mid, no DoRA), decoded to Float32,
    /// for exact LoRA→LoRA concatenation. `ΔW = scale · reshape(flat(up) · flat(down))`.
    public var lowRankFactors: LowRankFactors? {
        guard family == .lora || family == .locon, !isDoRA, !hasMid,
              let up = tensors[.up], let down = tensors[.down] else { return nil }
        return LowRankFactors(up: up.floats(), upShape: up.shape, down: down.floats(), downShape: down.shape)
    }

    /// `s · ΔW` fitted to `shape` (no strength), for additive families.
    ///
    /// The ΔW is reshaped to `shape` when the element counts and the output dimension
    /// agree (e.g. an SD1 1×1-conv `proj_in` delta applied to a Linear weight).
    /// - Parameter shape: the target weight's shape (or the norm vector's shape).
    /// - Returns: `shape.product` values in row-major order.
    /// - Throws: ``LoRAError/shapeMismatch(target:expected:actual:)`` when ΔW cannot fit;
    ///   ``LoRAError/unsupported(target:reason:)`` for IA³ (not additive) or a module with no weight delta.
    public func deltaWeight(shape: [Int]) throws(LoRAError) -> [Float] {
        guard family.isAdditive else {
            throw .unsupported(target: target.description, reason: "IA3 scales the weight; it has no additive ΔW")
        }
        guard patchesWeight else { throw .unsupported(target: target.description, reason: "the module has no weight delta") }
        try checkDeltaSize(fitting: shape)
        let natural = try naturalDelta()
        try fit(natural.shape, to: shape)
        var values = natural.values
        try DeltaMath.la { () throws(LinearAlgebraError) in try BLAS.scale(&values, by: scale) }
        return values
    }

    /// Patches a weight in place: `W + λ·s·ΔW` for additive families, the DoRA rule when
    /// ``isDoRA`` (`W + λ·(W_dora − W)`, NUMERICS §1.8), `W ⊙ (1 + λ·w)` for IA³.
    /// - Parameters:
    ///   - weight: the base weight, row-major, `shape.product` values; patched in place.
    ///   - shape: the weight's shape (PyTorch layout: `(out, in)` or `(out, in, kh, kw)`).
    ///   - strength: the user strength λ.
    /// - Throws: ``LoRAError/shapeMismatch(target:expected:actual:)`` when the module cannot fit the weight
    ///   (the weight is left unchanged); ``LoRAError/invalidTensor(key:reason:)`` for malformed factors.
    public func apply(toWeight weight: inout [Float], shape: [Int], strength: Float) throws(LoRAError) {
        guard weight.count == DeltaMath.count(shape[...]) else {
            throw .shapeMismatch(target: target.description, expected: shape, actual: [weight.count])
        }
        guard patchesWeight else { return }
        if family == .ia3 {
            try applyIA3(&weight, shape: shape, strength: strength)
        } else if isDoRA {
            try applyDoRA(&weight, shape: shape, strength: strength)
        } else if (family == .lora || family == .locon) && !hasMid {
            try applyLowRankInPlace(&weight, shape: shape, strength: strength)
        } else {
            let delta = try deltaWeight(shape: shape)
            try DeltaMath.la { () throws(LinearAlgebraError) in try BLAS.axpy(strength, delta, &weight) }
        }
    }

    /// Plain LoRA / LoCon: `W += (λ·s) · flat(U) · flat(D)` as one sgemm accumulating into
    /// W (β = 1), with no ΔW buffer; the same numbers as ``deltaWeight(shape:)`` + axpy
    /// up to float rounding order.
    private func applyLowRankInPlace(_ weight: inout [Float], shape: [Int], strength: Float) throws(LoRAError) {
        let up = try view(.up), down = try view(.down)
        guard up.shape.count >= 2, down.shape.count >= 2 else {
            throw .invalidTensor(key: target.description, reason: "up/down must have at least 2 dimensions")
        }
        let out = up.shape[0]
        let rank = DeltaMath.count(up.shape.dropFirst())
        guard down.shape[0] == rank else {
            throw .invalidTensor(key: target.description, reason: "up \(LoRAError.format(up.shape)) and down \(LoRAError.format(down.shape)) ranks differ")
        }
        try fit([out] + Array(down.shape.dropFirst()), to: shape)
        let inner = DeltaMath.count(down.shape.dropFirst())
        let u = up.floats(), d = down.floats()
        try DeltaMath.la { () throws(LinearAlgebraError) in
            try BLAS.gemm(m: out, n: inner, k: rank, alpha: strength * scale, u, d, beta: 1, &weight)
        }
    }

    /// Patches a bias in place: `b + λ·diff_b` or `β + λ·b_norm`. Does nothing when ``patchesBias`` is false.
    /// - Throws: ``LoRAError/shapeMismatch(target:expected:actual:)`` when the sizes differ.
    public func apply(toBias bias: inout [Float], shape: [Int], strength: Float) throws(LoRAError) {
        guard let view = tensors[.diffB] ?? tensors[.bNorm] else { return }
        guard bias.count == DeltaMath.count(shape[...]), view.elementCount == bias.count else {
            throw .shapeMismatch(target: target.description + ".bias", expected: shape, actual: view.shape)
        }
        let delta = view.floats()
        try DeltaMath.la { () throws(LinearAlgebraError) in try BLAS.axpy(strength, delta, &bias) }
    }

    // MARK: - Internals

    func view(_ role: TensorRole) throws(LoRAError) -> TensorView {
        guard let v = tensors[role] else { throw .missingTensor(target: target.description, role: role.rawValue) }
        return v
    }

    func decoded(_ role: TensorRole) throws(LoRAError) -> DeltaMath.Shaped {
        let v = try view(role)
        return (v.floats(), v.shape)
    }

    func decodedIfPresent(_ role: TensorRole) -> DeltaMath.Shaped? {
        tensors[role].map { ($0.floats(), $0.shape) }
    }

    /// Checks that a ΔW of `natural` shape can be reshaped to `shape`.
    func fit(_ natural: [Int], to shape: [Int]) throws(LoRAError) {
        let ok = DeltaMath.count(natural[...]) == DeltaMath.count(shape[...])
            && (natural.first ?? 1) == (shape.first ?? 1)
        guard ok else { throw .shapeMismatch(target: target.description, expected: shape, actual: natural) }
    }

    /// The unscaled ΔW in the shape its factors give.
    func naturalDelta() throws(LoRAError) -> DeltaMath.Shaped {
        let name = target.description
        switch family {
        case .lora, .locon:
            return try DeltaMath.lowRank(up: decoded(.up), down: decoded(.down), mid: decodedIfPresent(.mid), target: name)
        case .loha:
            return try DeltaMath.hadamard(
                w1a: decoded(.hadaW1A), w1b: decoded(.hadaW1B), w2a: decoded(.hadaW2A), w2b: decoded(.hadaW2B),
                t1: decodedIfPresent(.hadaT1), t2: decodedIfPresent(.hadaT2), target: name)
        case .lokr:
            let w1: DeltaMath.Shaped
            if let full = decodedIfPresent(.lokrW1) {
                w1 = full
            } else {
                w1 = try DeltaMath.pair(decoded(.lokrW1A), decoded(.lokrW1B), target: name)
            }
            let w2: DeltaMath.Shaped
            if let full = decodedIfPresent(.lokrW2) {
                w2 = full
            } else if let t2 = decodedIfPresent(.lokrT2) {
                w2 = try DeltaMath.tucker(t: t2, a: decoded(.lokrW2A), b: decoded(.lokrW2B), target: name)
            } else {
                w2 = try DeltaMath.pair(decoded(.lokrW2A), decoded(.lokrW2B), target: name)
            }
            return try DeltaMath.kronecker(w1, w2, target: name)
        case .full:
            return try decoded(.diff)
        case .norm:
            return try decoded(.wNorm)
        case .ia3:
            throw .unsupported(target: name, reason: "IA3 scales the weight; it has no additive ΔW")
        }
    }
}
