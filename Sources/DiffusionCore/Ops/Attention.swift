import CDiffusionKernels
import COpenBLAS

/// Options of scaled-dot-product attention.
public struct AttentionOptions: Sendable, Equatable {
    /// The number of heads the channel axis splits into.
    public var heads: Int
    /// Mask key `j` from query `i` when `j > i` (top-left aligned, as torch's `is_causal`; CLIP's text encoder).
    public var causal: Bool
    /// The factor the scores are multiplied by; nil means `1/√headDim` (torch's default).
    public var scale: Float?

    public init(heads: Int, causal: Bool = false, scale: Float? = nil) {
        self.heads = heads
        self.causal = causal
        self.scale = scale
    }
}

extension Ops {
    /// The largest number of query rows one attention tile holds.
    static let attentionQueryTile = 64
    /// The largest number of keys one attention block holds; longer key sequences stream through an online
    /// softmax, so no score matrix larger than `attentionQueryTile × attentionKeyBlock` ever exists.
    static let attentionKeyBlock = 1024

    /// Multi-head scaled-dot-product attention, `softmax(scale·Q·Kᵀ)·V` per head (torch
    /// `F.scaled_dot_product_attention` on `[B, H, T, D]` after the usual head split), for self- and
    /// cross-attention.
    ///
    /// Heads are the contiguous `D`-wide slices of the channel axis (diffusers' `head_to_batch_dim` order).
    /// Scores, softmax and products are float32 throughout (the "upcast" attention of fp16 models). Work is
    /// tiled over (batch, head, 64-query tile) and keys stream in blocks of 1024 with an online softmax, so
    /// memory holds one 64×1024 score tile per core whatever the sequence lengths.
    ///
    /// - Parameters:
    ///   - query: `[B, Tq, H·D]` (or `[Tq, H·D]`).
    ///   - key: `[B, Tk, H·D]` (or `[Tk, H·D]`), the same `B`.
    ///   - value: `[B, Tk, H·Dv]` (or `[Tk, H·Dv]`).
    /// - Returns: `[B, Tq, H·Dv]` (or `[Tq, H·Dv]`), heads merged back.
    /// - Throws: ``TensorError/shapeMismatch(operation:expected:actual:)`` for inconsistent shapes,
    ///   ``TensorError/invalidArgument(operation:reason:)`` when `heads` does not divide the channels,
    ///   ``TensorError/emptyTensor(operation:shape:)`` for no queries or keys.
    public static func attention(
        query: Tensor, key: Tensor, value: Tensor, options: AttentionOptions, workspace: Workspace? = nil
    ) throws(TensorError) -> Tensor {
        let shape = try attentionOutputShape(query: query, key: key, value: value, heads: options.heads)
        var out = makeOutput(shape, workspace)
        try attention(query: query, key: key, value: value, options: options, into: &out, workspace: workspace)
        return out
    }

    /// ``attention(query:key:value:options:workspace:)`` into `out` (`[B, Tq, H·Dv]`).
    public static func attention(
        query: Tensor, key: Tensor, value: Tensor, options: AttentionOptions, into out: inout Tensor,
        workspace: Workspace? = nil
    ) throws(TensorError) {
        let shape = try attentionOutputShape(query: query, key: key, value: value, heads: options.heads)
        try prepare(&out, shape: shape, operation: "attention")
        let batched = query.rank == 3
        let batch = batched ? query.shape[0] : 1
        let tq = query.shape[query.rank - 2], tk = key.shape[key.rank - 2]
        let heads = options.heads
        let qWidth = query.shape[query.rank - 1], vWidth = value.shape[value.rank - 1]
        let d = qWidth / heads, dv = vWidth / heads
        let scale = options.scale ?? 1 / Float(d).squareRoot()
        guard scale.isFinite else { throw .invalidArgument(operation: "attention", reason: "scale \(scale) is not finite") }
        _ = try blasIndex(Swift.max(qWidth, vWidth, tk, tq), "attention")

        let qc = query.contiguous(), kc = key.contiguous(), vc = value.contiguous()
        let geometry = AttentionGeometry(batch: batch, tq: tq, tk: tk, heads: heads, d: d, dv: dv,
                                         qWidth: qWidth, vWidth: vWidth, scale: scale, causal: options.causal)
        withExtendedLifetime((qc, kc, vc)) {
            let q = qc.elementPointer, k = kc.elementPointer, v = vc.elementPointer, o = out.elementPointer
            // The level is read once: every tile of this call runs at it even if another caller changes it.
            let level = dk_cpu_level()
            if level >= 1, dk_attention_fused_available() != 0 {
                attentionFused(geometry, level, q, k, v, o, workspace)
            } else {
                attentionTiledGEMM(geometry, q, k, v, o, workspace)
            }
        }
    }

    /// Sizes of one attention call: `batch × heads` independent problems of `tq` queries against `tk` keys,
    /// heads `d` (queries, keys) and `dv` (values) wide, rows `qWidth = heads·d` and `vWidth = heads·dv` apart.
    struct AttentionGeometry {
        var batch, tq, tk, heads, d, dv, qWidth, vWidth: Int
        var scale: Float
        var causal: Bool
    }

    /// The fused kernel: each head's keys and values are packed once (`dk_attention_pack`), then each task is
    /// one query tile of one head, scores, online softmax and the value product computed together in a
    /// per-chunk scratch of L1/L2 size (`dk_attention_tile`); no BLAS call inside.
    private static func attentionFused(
        _ g: AttentionGeometry, _ level: Int32, _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, _ v: UnsafePointer<Float>,
        _ o: UnsafeMutablePointer<Float>, _ workspace: Workspace?
    ) {
        let problems = g.batch * g.heads
        // Every part is rounded to 64 bytes so each head's share and each chunk's share stay aligned.
        let perHead = (dk_attention_packed_count(g.tk, g.d, g.dv) + 15) / 16 * 16
        let packed = Scratch(count: problems * perHead, workspace: workspace)
        defer { packed.release() }
        let kv = packed.pointer
        Parallel.forEach(problems) { range in
            for p in range {
                let h = p % g.heads, b = p / g.heads
                dk_attention_pack(k + b * g.tk * g.qWidth + h * g.d, g.qWidth, v + b * g.tk * g.vWidth + h * g.dv, g.vWidth,
                                  g.tk, g.d, g.dv, kv + p * perHead)
            }
        }

        let tileQ = dk_attention_query_tile()
        let tiles = (g.tq + tileQ - 1) / tileQ
        let tasks = problems * tiles
        let perChunk = (dk_attention_scratch_count(g.d, g.dv) + 15) / 16 * 16
        let chunks = Parallel.chunkCount(tasks)
        let scratch = Scratch(count: chunks * perChunk, workspace: workspace)
        defer { scratch.release() }
        Parallel.forEachChunk(tasks, chunks: chunks) { chunk, range in
            let s = scratch.pointer + chunk * perChunk
            for task in range {
                let tile = task % tiles, p = task / tiles, h = p % g.heads, b = p / g.heads
                let q0 = tile * tileQ, rows = Swift.min(tileQ, g.tq - q0)
                dk_attention_tile(q + (b * g.tq + q0) * g.qWidth + h * g.d, g.qWidth, kv + p * perHead,
                                  o + (b * g.tq + q0) * g.vWidth + h * g.dv, g.vWidth,
                                  rows, g.tk, g.d, g.dv, g.scale, g.causal ? 1 : 0, q0, s, level)
            }
        }
    }

    /// The portable path: per query tile, Q·Kᵀ and P·V through `cblas_sgemm` (OpenBLAS held to one thread inside
    /// the parallel region) around the online-softmax kernel, keys in blocks of ``attentionKeyBlock``.
    private static func attentionTiledGEMM(
        _ g: AttentionGeometry, _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, _ v: UnsafePointer<Float>,
        _ o: UnsafeMutablePointer<Float>, _ workspace: Workspace?
    ) {
        let (tq, tk, heads, d, dv, qWidth, vWidth, scale) = (g.tq, g.tk, g.heads, g.d, g.dv, g.qWidth, g.vWidth, g.scale)
        let tileQ = attentionQueryTile, blockK = Swift.min(attentionKeyBlock, tk)
        let tiles = (tq + tileQ - 1) / tileQ
        let tasks = g.batch * heads * tiles
        let causal = g.causal
        let perChunk = tileQ * blockK + 3 * tileQ
        let chunks = Parallel.chunkCount(tasks)
        let scratch = Scratch(count: chunks * perChunk, workspace: workspace)
        defer { scratch.release() }

        Parallel.withSingleThreadedBLAS {
            Parallel.forEachChunk(tasks, chunks: chunks) { chunk, range in
                let s = scratch.pointer + chunk * perChunk, rowMax = s + tileQ * blockK, rowSum = rowMax + tileQ, corr = rowSum + tileQ
                for task in range {
                    let tile = task % tiles, h = (task / tiles) % heads, b = task / (tiles * heads)
                    let q0 = tile * tileQ, rows = Swift.min(tileQ, tq - q0)
                    let qRows = q + (b * tq + q0) * qWidth + h * d
                    let oRows = o + (b * tq + q0) * vWidth + h * dv
                    for r in 0..<rows { rowMax[r] = -.infinity; rowSum[r] = 0 }
                    // Keys a causal tile can see end at its last query.
                    let keyEnd = causal ? Swift.min(tk, q0 + rows) : tk
                    var k0 = 0
                    while k0 < keyEnd {
                        let cols = Swift.min(blockK, keyEnd - k0)
                        let kRows = k + (b * tk + k0) * qWidth + h * d
                        let vRows = v + (b * tk + k0) * vWidth + h * dv
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(cols), Int32(d),
                                    scale, qRows, Int32(qWidth), kRows, Int32(qWidth), 0, s, Int32(blockK))
                        dk_online_softmax_block(s, blockK, rows, cols, rowMax, rowSum, corr, causal ? 1 : 0, q0 - k0)
                        if k0 > 0 { dk_scale_rows(oRows, vWidth, rows, dv, corr, 0) }
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(dv), Int32(cols),
                                    1, s, Int32(blockK), vRows, Int32(vWidth), k0 > 0 ? 1 : 0, oRows, Int32(vWidth))
                        k0 += cols
                    }
                    dk_scale_rows(oRows, vWidth, rows, dv, rowSum, 1)
                }
            }
        }
    }

    /// Validates the attention operands and returns the output shape.
    static func attentionOutputShape(query: Tensor, key: Tensor, value: Tensor, heads: Int) throws(TensorError) -> [Int] {
        let op = "attention"
        guard query.rank == 2 || query.rank == 3 else {
            throw .shapeMismatch(operation: "\(op) query", expected: "[B, Tq, H·D] or [Tq, H·D]", actual: query.shape)
        }
        let r = query.rank
        guard key.rank == r else { throw .shapeMismatch(operation: "\(op) key", expected: "rank \(r) like the query", actual: key.shape) }
        guard value.rank == r else { throw .shapeMismatch(operation: "\(op) value", expected: "rank \(r) like the query", actual: value.shape) }
        if r == 3 {
            guard key.shape[0] == query.shape[0], value.shape[0] == query.shape[0] else {
                throw .shapeMismatch(operation: "\(op) key/value", expected: "batch \(query.shape[0])", actual: key.shape)
            }
        }
        guard key.shape[r - 1] == query.shape[r - 1] else {
            throw .shapeMismatch(operation: "\(op) key", expected: "[..., Tk, \(query.shape[r - 1])]", actual: key.shape)
        }
        guard value.shape[r - 2] == key.shape[r - 2] else {
            throw .shapeMismatch(operation: "\(op) value", expected: "[..., \(key.shape[r - 2]), H·Dv]", actual: value.shape)
        }
        try requireNonEmpty(query, op)
        try requireNonEmpty(key, op)
        try requireNonEmpty(value, op)
        guard heads > 0, query.shape[r - 1] % heads == 0, value.shape[r - 1] % heads == 0 else {
            throw .invalidArgument(operation: op, reason: "\(heads) heads do not divide widths \(query.shape[r - 1]) and \(value.shape[r - 1])")
        }
        return Array(query.shape.dropLast()) + [value.shape[r - 1]]
    }
}
