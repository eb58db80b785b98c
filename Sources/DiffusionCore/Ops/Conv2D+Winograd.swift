import CDiffusionKernels
import COpenBLAS

/// 3×3 stride-1 convolution through Winograd F(4×4, 3×3): 36 GEMMs in the transform domain on 4× fewer
/// multiplications than the direct convolution.
///
/// Weights are transformed per call into workspace scratch (a model never keeps them transformed), one block
/// of output channels at a time, split over the cores. Then each core takes its own chunks of tiles through
/// input transform → 36 GEMMs (OpenBLAS held to one thread) → output transform, so a chunk's transformed
/// tiles stay in that core's cache and the cores never wait for each other inside a block.
///
/// The instruction-set level is read once per call and handed to every kernel call of it, so a level changed
/// meanwhile (tests switch it process-wide) cannot change paths halfway through one convolution.
enum WinogradConv {
    static let planes = Int(DK_WINOGRAD43_PLANES)

    /// - Parameters:
    ///   - accumulate: add the convolution to what `output` holds instead of overwriting it.
    ///   - level: the instruction-set level for the whole call (nil: the current one, read once here).
    static func run(_ g: Conv2DGeometry, input: UnsafePointer<Float>, weight: WeightMatrix, bias: UnsafePointer<Float>?,
                    output: UnsafeMutablePointer<Float>, workspace: Workspace?,
                    plan forcedPlan: ConvPlanner.WinogradPlan? = nil, accumulate: Bool = false, level: KernelLevel? = nil) {
        let plan = forcedPlan ?? ConvPlanner.winograd(g)
        let acc: Int32 = accumulate ? 1 : 0
        let level = level ?? KernelLevel.current, lv = Int32(level.rawValue)
        if let sub = plan.channelSplit {
            runSplittingChannels(g, input: input, weight: weight, bias: bias, output: output, workspace: workspace,
                                 subBlock: sub, accumulate: accumulate, level: level)
            return
        }
        let cin = g.inChannels, cout = g.outChannels
        let tilesY = (g.outHeight + 3) / 4, tilesX = (g.outWidth + 3) / 4
        let tiles = plan.tiles, tc = plan.tileChunk
        let chunkCount = (tiles + tc - 1) / tc
        let workers = min(Parallel.workerCount, chunkCount)
        let perWorker = planes * (cin + plan.coBlock) * tc
        let uScratch = Scratch(count: planes * plan.coBlock * cin, workspace: workspace)
        let tileScratch = Scratch(count: workers * perWorker, workspace: workspace)
        defer { uScratch.release(); tileScratch.release() }
        let u = uScratch.pointer
        let dtype = weight.convKernelType
        weight.withStoredElements { w in
            for cb in stride(from: 0, to: cout, by: plan.coBlock) {
                let nb = min(plan.coBlock, cout - cb)
                Parallel.forEach(nb, grain: 4) { r in
                    dk_winograd43_weights(w, dtype, Int32(cin), Int32(cb + r.lowerBound), Int32(r.count),
                                          u + r.lowerBound * cin, nb * cin, lv)
                }
                Parallel.withSingleThreadedBLAS {
                    Parallel.forEachChunk(chunkCount, chunks: workers) { worker, chunks in
                        let v = tileScratch.pointer + worker * perWorker
                        let m = v + planes * cin * tc
                        for chunk in chunks {
                            let t0 = chunk * tc, tn = min(tc, tiles - t0)
                            dk_winograd43_input(input, Int32(cin), Int32(g.height), Int32(g.width),
                                                Int32(g.padding.top), Int32(g.padding.left), Int32(tilesY),
                                                Int32(tilesX), t0, Int32(tn), 0, Int32(cin), v, cin * tn, lv)
                            planeProducts(u, rows: nb, v, columns: tn, depth: cin, into: m, level: level)
                            dk_winograd43_output(m, nb * tn, Int32(cb), Int32(nb), bias, output, Int32(cout),
                                                 Int32(g.outHeight), Int32(g.outWidth), Int32(tilesY), Int32(tilesX),
                                                 t0, Int32(tn), acc, lv)
                        }
                    }
                }
            }
        }
    }

    /// Small maps (few tiles): every tile is transformed once, then each core takes its own small blocks of
    /// output channels through weight transform → 36 GEMMs → output transform, so a block's transformed
    /// weights are used while they are still in cache instead of going out to memory and back.
    static func runSplittingChannels(_ g: Conv2DGeometry, input: UnsafePointer<Float>, weight: WeightMatrix,
                                     bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>,
                                     workspace: Workspace?, subBlock: Int, accumulate: Bool, level: KernelLevel) {
        let acc: Int32 = accumulate ? 1 : 0, lv = Int32(level.rawValue)
        let cin = g.inChannels, cout = g.outChannels
        let tilesY = (g.outHeight + 3) / 4, tilesX = (g.outWidth + 3) / 4
        let tiles = ConvPlanner.tiles(g)
        let blocks = (cout + subBlock - 1) / subBlock
        let workers = min(Parallel.workerCount, blocks)
        let perWorker = planes * subBlock * (cin + tiles)
        let vScratch = Scratch(count: planes * cin * tiles, workspace: workspace)
        let workerScratch = Scratch(count: workers * perWorker, workspace: workspace)
        defer { vScratch.release(); workerScratch.release() }
        let v = vScratch.pointer
        Parallel.forEach(cin, grain: 4) { r in
            dk_winograd43_input(input, Int32(cin), Int32(g.height), Int32(g.width), Int32(g.padding.top),
                                Int32(g.padding.left), Int32(tilesY), Int32(tilesX), 0, Int32(tiles),
                                Int32(r.lowerBound), Int32(r.count), v + r.lowerBound * tiles, cin * tiles, lv)
        }
        let dtype = weight.convKernelType
        weight.withStoredElements { w in
            Parallel.withSingleThreadedBLAS {
                Parallel.forEachChunk(blocks, chunks: workers) { worker, range in
                    let u = workerScratch.pointer + worker * perWorker
                    let m = u + planes * subBlock * cin
                    for block in range {
                        let co0 = block * subBlock, nb = min(subBlock, cout - co0)
                        dk_winograd43_weights(w, dtype, Int32(cin), Int32(co0), Int32(nb), u, nb * cin, lv)
                        planeProducts(u, rows: nb, v, columns: tiles, depth: cin, into: m, level: level,
                                      unpackedMaxColumns: ConvPlanner.splitUnpackedMaxColumns)
                        dk_winograd43_output(m, nb * tiles, Int32(co0), Int32(nb), bias, output, Int32(cout),
                                             Int32(g.outHeight), Int32(g.outWidth), Int32(tilesY), Int32(tilesX),
                                             0, Int32(tiles), acc, lv)
                    }
                }
            }
        }
    }

    /// The 36 transform-domain products `m_ξ = u_ξ · v_ξ` of one block (`u_ξ` `rows × depth`, `v_ξ`
    /// `depth × columns`, planes stored one after another): through the unpacked small-column kernel where the
    /// processor and `level` have it and the planner chooses it, else one BLAS product per plane. The unpacked
    /// kernel refuses (writes nothing) below the AVX-512 level; the product then goes to BLAS.
    /// - Parameter unpackedMaxColumns: the most columns the unpacked kernel takes (the planner's choice).
    static func planeProducts(_ u: UnsafePointer<Float>, rows: Int, _ v: UnsafePointer<Float>, columns: Int, depth: Int,
                              into m: UnsafeMutablePointer<Float>, level: KernelLevel,
                              unpackedMaxColumns: Int = ConvPlanner.unpackedProductMaxColumns) {
        let unpacked = columns >= ConvPlanner.unpackedProductMinColumns && columns <= unpackedMaxColumns
        let lv = Int32(level.rawValue)
        for xi in 0..<planes {
            let a = u + xi * rows * depth, b = v + xi * depth * columns, c = m + xi * rows * columns
            if unpacked,
               dk_gemm_small_n(Int32(rows), Int32(columns), Int32(depth), a, depth, b, columns, c, columns, lv) == 1 {
                continue
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(columns), Int32(depth),
                        1, a, Int32(depth), b, Int32(columns), 0, c, Int32(columns))
        }
    }
}
