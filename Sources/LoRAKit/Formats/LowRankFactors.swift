/// A low-rank pair of LoRA factors in PyTorch layout: `up` `[out, r]` (or `[out, r, 1, 1]`) and
/// `down` `[r, in]` (or `[r, in, kh, kw]`), with `ΔW = reshape(flat(up) · flat(down))` before any scale.
///
/// The one type for a factor pair: read from a LoRA module (``LoRAModule/lowRankFactors``),
/// concatenated, SVD-merged, resized, extracted and converted.
public struct LowRankFactors: Sendable, Equatable {
    /// up, row-major.
    public var up: [Float]
    public var upShape: [Int]
    /// down, row-major.
    public var down: [Float]
    public var downShape: [Int]

    public init(up: [Float], upShape: [Int], down: [Float], downShape: [Int]) {
        self.up = up
        self.upShape = upShape
        self.down = down
        self.downShape = downShape
    }

    /// Factors of flat matrices `up` `[rows, rank]` and `down` `[rank, columns]`, shaped for a layer of
    /// natural shape `layer` (`[out, in]` or `[out, in, kh, kw]`): a conv's up is `[out, r, 1, 1]` and its
    /// down `[r, in, kh, kw]`, as kohya writes them.
    public init(up: [Float], down: [Float], rank: Int, layer: [Int]) {
        let isConv = layer.count == 4
        self.init(up: up, upShape: isConv ? [layer[0], rank, 1, 1] : [layer[0], rank],
                  down: down, downShape: [rank] + layer.dropFirst())
    }

    /// The rank (`down`'s first dimension).
    public var rank: Int { downShape.first ?? 0 }

    /// `up`'s rows (the layer's output features).
    public var outFeatures: Int { upShape.first ?? 0 }

    /// `down`'s columns: the layer's input features times its kernel size.
    public var columns: Int { downShape.dropFirst().reduce(1, *) }

    /// The natural shape of `up · down`: `[out] + down.shape[1...]`.
    public var layerShape: [Int] { [outFeatures] + downShape.dropFirst() }

    /// Whether the pair chains: `up` `[out, r(, 1, 1)]`, `down` `[r, …]`, counts matching the shapes.
    public var chains: Bool {
        upShape.count >= 2 && downShape.count >= 2 && upShape[1] == downShape[0] && upShape.dropFirst(2).allSatisfy { $0 == 1 }
            && up.count == upShape.reduce(1, *) && down.count == downShape.reduce(1, *)
    }
}
