/// Chooses the algorithm and the blocking of a convolution from its sizes. The thresholds come from the
/// measurements recorded in Docs/benchmarks.md.
package enum ConvPlanner {
    /// Bytes of transformed weights kept at once (one block of output channels).
    static let weightBlockBytes = 40 << 20
    /// Bytes of transformed input plus transform-domain output per chunk of tiles (one per core).
    static let tileChunkBytes = 12 << 20
    /// Fewest and most tiles per chunk: the N of the transform-domain GEMMs.
    static let tileChunkRange = 32...256
    /// Below this many tiles (4×4 output blocks over the batch; 16 for 1280 channels at 16×16, 64 at 32×32,
    /// batch 1, 128 at batch 2) the weights are transformed in small blocks of output channels that stay in
    /// cache and are used at once (``WinogradPlan/channelSplit``), instead of a large block written out to memory
    /// and read back by every core for its share of the tiles. Measured (`ops-bench conv-xl1280s32`,
    /// `conv-unet640`, f16 weights): at 64 tiles the split takes half the CPU time of the tile schedule (1280 and
    /// 640 channels); at 128 tiles 0.6–0.9× of it with its products unpacked (``splitUnpackedMaxColumns``); at
    /// 256 tiles (`conv-xl640s64`, `conv-unet320`) it is slower or the same. Benchmarks change it to measure
    /// alternatives.
    nonisolated(unsafe) package static var channelSplitBelowTiles = 160
    /// Bytes of transformed weights per block of output channels when the channels are split (small maps).
    nonisolated(unsafe) package static var channelSplitBytes = 2 << 20
    /// Bytes of one im2col panel.
    static let im2colBytes = 16 << 20
    /// Transform-domain products with at least ``unpackedProductMinColumns`` and at most this many columns
    /// (tiles) run through the unpacked kernel (`dk_gemm_small_n`, AVX-512 processors) instead of BLAS, whose
    /// packing of both operands costs as much as the arithmetic at so few columns (measured: 16 and 64 columns
    /// faster unpacked, 128 and 256 faster through BLAS). Benchmarks set it to 0 to measure the BLAS schedule.
    nonisolated(unsafe) package static var unpackedProductMaxColumns = 64
    /// Below one vector of columns (an 8×8 map at batch 1 has 4 tiles) the unpacked kernel leaves most lanes
    /// idle and BLAS was measured faster.
    static let unpackedProductMinColumns = 16
    /// The most columns the unpacked kernel takes in the channel split, where a product's columns are all the
    /// tiles and its rows one small block of output channels (BLAS would pack a panel for 8 rows): every split
    /// product, unless benchmarks turned the unpacked kernel off.
    static var splitUnpackedMaxColumns: Int { unpackedProductMaxColumns == 0 ? 0 : Int.max }
    /// Sizes tile chunks so that every core gets the same number (see ``winograd(_:)``); benchmarks turn it off
    /// to measure the schedule without it.
    nonisolated(unsafe) package static var balancesTileChunks = true

    struct WinogradPlan: Equatable {
        var tiles: Int
        var coBlock: Int
        var tileChunk: Int
        /// When set: all tiles at once, output channels in blocks of this size per core (small maps).
        var channelSplit: Int? = nil
    }

    static func tiles(_ g: Conv2DGeometry) -> Int {
        g.batch * ((g.outHeight + 3) / 4) * ((g.outWidth + 3) / 4)
    }

    static func prefersWinograd(_ g: Conv2DGeometry) -> Bool {
        g.isWinogradCandidate && g.inChannels >= 8 && g.outChannels >= 8
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
        let workers = Parallel.workerCount
        chunk = min(chunk, max(1, (tiles + workers - 1) / workers))
        if balancesTileChunks {
            // The same number of chunks for every core (three chunks on two cores left one core idle for a third
            // of the block): the fewest rounds of `workers` chunks that keep chunks within the size found above.
            let rounds = (tiles + chunk * workers - 1) / (chunk * workers)
            chunk = (tiles + rounds * workers - 1) / (rounds * workers)
        }
        var plan = WinogradPlan(tiles: tiles, coBlock: coBlock, tileChunk: max(1, min(chunk, tiles)))
        if tiles < channelSplitBelowTiles {
            // A block's transformed weights (36 planes) sized to stay in a core's cache.
            plan.channelSplit = min(cout, max(8, channelSplitBytes / (planes * cin * 4) / 8 * 8))
        }
        return plan
    }

    static func im2colBandRows(_ g: Conv2DGeometry) -> Int {
        let rowBytes = g.inChannels * g.kernelHeight * g.kernelWidth * g.outWidth * 4
        return min(g.outHeight, max(1, im2colBytes / rowBytes))
    }
}
