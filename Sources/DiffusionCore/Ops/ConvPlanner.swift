/// Chooses the algorithm and the blocking of a convolution from its sizes. The thresholds come from the
/// measurements recorded in Docs/benchmarks.md.
enum ConvPlanner {
    /// Bytes of transformed weights kept at once (one block of output channels).
    static let weightBlockBytes = 40 << 20
    /// Bytes of transformed input plus transform-domain output per chunk of tiles (one per core).
    static let tileChunkBytes = 12 << 20
    /// Fewest and most tiles per chunk: the N of the transform-domain GEMMs.
    static let tileChunkRange = 32...256
    /// Below this many tiles (4×4 output blocks over the batch) the transform-domain GEMMs are too narrow
    /// and the per-call weight transform dominates: im2col + GEMM is faster (1280 channels at 16×16, batch 1).
    static let winogradMinimumTiles = 48
    /// Bytes of one im2col panel.
    static let im2colBytes = 16 << 20

    struct WinogradPlan: Equatable {
        var tiles: Int
        var coBlock: Int
        var tileChunk: Int
    }

    static func tiles(_ g: Conv2DGeometry) -> Int {
        g.batch * ((g.outHeight + 3) / 4) * ((g.outWidth + 3) / 4)
    }

    static func prefersWinograd(_ g: Conv2DGeometry) -> Bool {
        g.isWinogradCandidate && g.inChannels >= 8 && g.outChannels >= 8 && tiles(g) >= winogradMinimumTiles
    }

    static func winograd(_ g: Conv2DGeometry) -> WinogradPlan {
        let planes = 36
        let tiles = tiles(g)
        let cin = g.inChannels, cout = g.outChannels
        var coBlock = cout
        if planes * cout * cin * 4 > weightBlockBytes {
            let blocks = (planes * cout * cin * 4 + weightBlockBytes - 1) / weightBlockBytes
            coBlock = min(cout, ((cout + blocks - 1) / blocks + 15) / 16 * 16)
        }
        var chunk = tileChunkBytes / (planes * (cin + coBlock) * 4)
        chunk = min(max(chunk, tileChunkRange.lowerBound), tileChunkRange.upperBound)
        // Whole tile rows when they fit, and at least one chunk per core.
        chunk = min(chunk, max(1, (tiles + Parallel.workerCount - 1) / Parallel.workerCount))
        return WinogradPlan(tiles: tiles, coBlock: coBlock, tileChunk: max(1, min(chunk, tiles)))
    }

    static func im2colBandRows(_ g: Conv2DGeometry) -> Int {
        let rowBytes = g.inChannels * g.kernelHeight * g.kernelWidth * g.outWidth * 4
        return min(g.outHeight, max(1, im2colBytes / rowBytes))
    }
}
