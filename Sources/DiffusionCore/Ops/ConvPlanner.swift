/// Chooses the algorithm and the blocking of a convolution from its sizes. The thresholds come from the
/// measurements recorded in Docs/benchmarks.md.
enum ConvPlanner {
    /// Bytes of transformed weights kept at once (one block of output channels).
    static let weightBlockBytes = 32 << 20
    /// Bytes of transformed input plus transform-domain output per chunk of tiles.
    static let tileChunkBytes = 8 << 20
    /// Bytes of one im2col panel.
    static let im2colBytes = 8 << 20

    struct WinogradPlan: Equatable {
        var tiles: Int
        var coBlock: Int
        var tileChunk: Int
    }

    static func prefersWinograd(_ g: Conv2DGeometry) -> Bool {
        g.isWinogradCandidate && g.inChannels >= 8 && g.outChannels >= 8
    }

    static func winograd(_ g: Conv2DGeometry, weightBlockBytes: Int = weightBlockBytes,
                         tileChunkBytes: Int = tileChunkBytes) -> WinogradPlan {
        let planes = 36
        let tiles = g.batch * ((g.outHeight + 3) / 4) * ((g.outWidth + 3) / 4)
        let cin = g.inChannels, cout = g.outChannels
        var coBlock = cout
        if planes * cout * cin * 4 > weightBlockBytes {
            coBlock = max(1, weightBlockBytes / (planes * cin * 4) / 16 * 16)
            coBlock = min(coBlock, cout)
        }
        var chunk = max(1, tileChunkBytes / (planes * (cin + coBlock) * 4))
        // With several weight blocks, keep the whole transformed input when it is small enough, so it is
        // transformed once rather than once per block.
        if coBlock < cout, planes * cin * tiles * 4 <= weightBlockBytes { chunk = tiles }
        chunk = min(chunk, tiles)
        return WinogradPlan(tiles: tiles, coBlock: coBlock, tileChunk: chunk)
    }

    static func im2colBandRows(_ g: Conv2DGeometry) -> Int {
        let rowBytes = g.inChannels * g.kernelHeight * g.kernelWidth * g.outWidth * 4
        return min(g.outHeight, max(1, im2colBytes / rowBytes))
    }
}
