import Foundation

/// Pillow's `Image.resize` with the Lanczos filter (what diffusers' `VaeImageProcessor` uses), bit for bit:
/// a separable two-pass convolution with Pillow's 8-bit fixed-point coefficients (22 fraction bits, rounded
/// half away from zero), its support widening when shrinking, and its rounding and clamping of each pass.
/// The passes run in Pillow 13's order: horizontal first, except when the height shrinks by more than twice
/// what the width shrinks (`h − H > 2 · (w − W)` with `H < h`), where the vertical pass runs first (earlier
/// Pillow releases always ran the horizontal pass first; the two orders differ by a level here and there).
/// A picture that keeps its size is returned unchanged, as Pillow copies it.
enum PillowResampler {
    static let precisionBits = 32 - 8 - 2
    static let lanczosSupport = 3.0

    static func sinc(_ x: Double) -> Double {
        if x == 0 { return 1 }
        let y = x * Double.pi
        return Foundation.sin(y) / y
    }

    static func lanczos(_ x: Double) -> Double {
        (-3.0 <= x && x < 3.0) ? sinc(x) * sinc(x / 3) : 0
    }

    /// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc`: for each output position, the first input
    /// index, the tap count and the fixed-point weights.
    static func coefficients(inSize: Int, outSize: Int) -> (bounds: [(Int, Int)], ksize: Int, weights: [Int32]) {
        let scale = Double(Float(inSize) - Float(0)) / Double(outSize)
        let filterScale = max(scale, 1.0)
        let support = lanczosSupport * filterScale
        let ksize = Int(support.rounded(.up)) * 2 + 1
        var bounds: [(Int, Int)] = []
        bounds.reserveCapacity(outSize)
        var weights = [Int32](repeating: 0, count: outSize * ksize)
        var k = [Double](repeating: 0, count: ksize)
        for xx in 0..<outSize {
            let center = (Double(xx) + 0.5) * scale
            let ss = 1.0 / filterScale
            var xmin = Int(center - support + 0.5)
            if xmin < 0 { xmin = 0 }
            var xmax = Int(center + support + 0.5)
            if xmax > inSize { xmax = inSize }
            xmax -= xmin
            var ww = 0.0
            for x in 0..<xmax {
                let w = lanczos((Double(x + xmin) - center + 0.5) * ss)
                k[x] = w
                ww += w
            }
            for x in 0..<xmax {
                let v = ww != 0 ? k[x] / ww : k[x]
                let scaled = v * Double(1 << precisionBits)
                weights[xx * ksize + x] = Int32(v < 0 ? (-0.5 + scaled) : (0.5 + scaled))
            }
            bounds.append((xmin, xmax))
        }
        return (bounds, ksize, weights)
    }

    @inline(__always)
    static func clip8(_ v: Int32) -> UInt8 {
        let shifted = v >> Int32(precisionBits)
        return shifted < 0 ? 0 : (shifted > 255 ? 255 : UInt8(shifted))
    }

    /// Pillow 13's choice of pass order (`ImagingResampleInner`): the vertical pass first when the height
    /// shrinks by more than twice as many pixels as the width does.
    static func verticalFirst(width: Int, height: Int, toWidth: Int, toHeight: Int) -> Bool {
        toWidth != width && toHeight < height && height - toHeight > 2 * (width - toWidth)
    }

    /// Resizes interleaved 8-bit pixels with `channels` samples each.
    static func resize(_ pixels: [UInt8], width: Int, height: Int, channels: Int, toWidth: Int, toHeight: Int) -> [UInt8] {
        if width == toWidth && height == toHeight { return pixels }
        if verticalFirst(width: width, height: height, toWidth: toWidth, toHeight: toHeight) {
            let rows = resize(pixels, width: width, height: height, channels: channels, toWidth: width, toHeight: toHeight)
            return resize(rows, width: width, height: toHeight, channels: channels, toWidth: toWidth, toHeight: toHeight)
        }
        var current = pixels
        var currentWidth = width
        let vertical = coefficients(inSize: height, outSize: toHeight)
        let firstRow = vertical.bounds.first!.0
        let lastRow = vertical.bounds.last!.0 + vertical.bounds.last!.1
        var rowOffset = 0
        if toWidth != width {
            // Horizontal pass over the rows the vertical pass will read.
            let horizontal = coefficients(inSize: width, outSize: toWidth)
            let rows = height != toHeight ? (firstRow..<lastRow) : (0..<height)
            var out = [UInt8](repeating: 0, count: rows.count * toWidth * channels)
            let half = Int32(1) << Int32(precisionBits - 1)
            current.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for (r, y) in rows.enumerated() {
                        let srcRow = y * width * channels
                        for xx in 0..<toWidth {
                            let (xmin, count) = horizontal.bounds[xx]
                            let kbase = xx * horizontal.ksize
                            for c in 0..<channels {
                                var ss = half
                                for x in 0..<count {
                                    ss &+= Int32(src[srcRow + (x + xmin) * channels + c]) &* horizontal.weights[kbase + x]
                                }
                                dst[(r * toWidth + xx) * channels + c] = clip8(ss)
                            }
                        }
                    }
                }
            }
            current = out
            currentWidth = toWidth
            rowOffset = rows.lowerBound
        }
        if toHeight != height {
            var out = [UInt8](repeating: 0, count: toWidth * toHeight * channels)
            let half = Int32(1) << Int32(precisionBits - 1)
            current.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for yy in 0..<toHeight {
                        let (ymin, count) = vertical.bounds[yy]
                        let kbase = yy * vertical.ksize
                        for i in 0..<(currentWidth * channels) {
                            var ss = half
                            for y in 0..<count {
                                ss &+= Int32(src[(y + ymin - rowOffset) * currentWidth * channels + i]) &* vertical.weights[kbase + y]
                            }
                            dst[yy * toWidth * channels + i] = clip8(ss)
                        }
                    }
                }
            }
            current = out
        }
        return current
    }
}
