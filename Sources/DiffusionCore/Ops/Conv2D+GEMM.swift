import CDiffusionKernels
import COpenBLAS

/// Convolution as GEMM: `Y[n] (C_out × H_out·W_out) = W (C_out × C_in·k_h·k_w) · col(X[n])`. Unpadded 1×1
/// stride-1 convolutions multiply the input directly (no copy); the others build im2col panels of a band of
/// output rows at a time in workspace scratch. Half-precision weights are widened per call into scratch.
enum GEMMConv {
    /// - Parameter accumulate: add the convolution to what `output` holds instead of overwriting it.
    static func run(_ g: Conv2DGeometry, input: UnsafePointer<Float>, weight: WeightMatrix, bias: UnsafePointer<Float>?,
                    output: UnsafeMutablePointer<Float>, workspace: Workspace?, accumulate: Bool = false) {
        let k = g.inChannels * g.kernelHeight * g.kernelWidth
        let cout = g.outChannels
        let plane = g.outputPlane
        let bandRows = g.isPointwise ? 0 : ConvPlanner.im2colBandRows(g)
        let colScratch = Scratch(count: bandRows * g.outWidth * k, workspace: workspace)
        defer { colScratch.release() }
        Parallel.forEach(g.batch * cout, grain: max(1, 16384 / plane)) { r in
            for row in r {
                if !accumulate {
                    dk_conv_fill_bias(output + row * plane, bias.map { $0 + row % cout }, 1, plane)
                } else if let bias {
                    let value = bias[row % cout], y = output + row * plane
                    for i in 0..<plane { y[i] += value }
                }
            }
        }
        weight.withFloat32(workspace: workspace) { w in
            for n in 0..<g.batch {
                let x = input + n * g.inChannels * g.inputPlane
                let y = output + n * cout * plane
                if g.isPointwise {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(cout), Int32(plane), Int32(k), 1,
                                w, Int32(k), x, Int32(plane), 1, y, Int32(plane))
                    continue
                }
                let col = colScratch.pointer
                for oy0 in stride(from: 0, to: g.outHeight, by: bandRows) {
                    let oh = min(bandRows, g.outHeight - oy0)
                    let ld = oh * g.outWidth
                    Parallel.forEach(g.inChannels, grain: 4) { r in
                        dk_conv_im2col(x, Int32(g.height), Int32(g.width), Int32(g.kernelHeight), Int32(g.kernelWidth),
                                       Int32(g.strideY), Int32(g.strideX), Int32(g.padding.top), Int32(g.padding.left),
                                       Int32(g.outWidth), Int32(oy0), Int32(oh), Int32(r.lowerBound), Int32(r.count),
                                       col + r.lowerBound * g.kernelHeight * g.kernelWidth * ld, ld)
                    }
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(cout), Int32(ld), Int32(k), 1,
                                w, Int32(k), col, Int32(ld), 1, y + oy0 * g.outWidth, Int32(plane))
                }
            }
        }
    }
}
