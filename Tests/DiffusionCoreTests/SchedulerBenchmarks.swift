import COpenBLAS
import Foundation
import Testing
import DiffusionCore

/// Scheduler step cost on a 4×64×64 latent (SD 1.5 at 512×512), against an SD 1.5 UNet step estimated
/// from its FLOP count at the measured sgemm rate. Not part of the normal run:
///
///     RUN_BENCHMARKS=1 swift test -c release -Xswiftc -enable-testing --scratch-path .build-sched --filter SchedulerBenchmarks
@Suite("Scheduler benchmarks", .serialized, .enabled(if: ProcessInfo.processInfo.environment["RUN_BENCHMARKS"] == "1"))
struct SchedulerBenchmarks {
    static let shape = [1, 4, 64, 64]
    /// FLOPs of one SD 1.5 UNet evaluation at 64×64 latents (the figure, ≈ 0.8 TFLOP).
    static let unetFLOPs = 0.8e12

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Best-of-3 single-precision GEMM rate (2048³), in FLOP/s.
    static func sgemmRate() -> Double {
        let n = 2048
        let a = [Float](repeating: 0.5, count: n * n), b = [Float](repeating: 0.25, count: n * n)
        var c = [Float](repeating: 0, count: n * n)
        var best = Double.infinity
        for _ in 0..<3 {
            let t0 = now()
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1, a, Int32(n), b, Int32(n), 0, &c, Int32(n))
            best = min(best, now() - t0)
        }
        return 2 * Double(n * n * n) / best
    }

    @Test("1000 scheduler steps per class on a 4×64×64 latent")
    func stepCost() throws {
        let rate = Self.sgemmRate()
        let unetSeconds = Self.unetFLOPs / rate
        var rng = SeededRandomSource(seed: 42)
        let x0 = try rng.normal(shape: Self.shape)
        var lines = [String(format: "sgemm 2048³: %.1f GFLOP/s → estimated SD1.5 UNet step (0.8 TFLOP): %.2f s", rate / 1e9, unetSeconds)]
        lines.append("scheduler (scale_model_input + step)  µs/call   % of UNet step")
        for kind in SchedulerKind.allCases {
            let steps = kind == .lcm || kind == .tcd ? 50 : 100
            let template = try kind.make(config: .stableDiffusion15, request: ScheduleRequest(steps: steps))
            var calls = 0
            var elapsed = 0.0
            while calls < 1000 {
                var s = template
                var x = x0.map { $0 * s.initNoiseSigma }
                while let t = s.currentTimestep, calls < 1000 {
                    let t0 = Self.now()
                    let xIn = s.scaleModelInput(x)
                    elapsed += Self.now() - t0
                    let m = xIn.map { 0.5 * $0 * cos(t / 1000) + 0.05 }   // fake model, not timed
                    let t1 = Self.now()
                    x = try s.step(modelOutput: m, sample: x, random: &rng)
                    elapsed += Self.now() - t1
                    calls += 1
                }
            }
            let perStep = elapsed / Double(calls)
            let pct = 100 * perStep / unetSeconds
            lines.append(kind.rawValue.padding(toLength: 35, withPad: " ", startingAt: 0) + String(format: "%9.1f   %.4f %%", perStep * 1e6, pct))
            #expect(pct < 1, "\(kind.rawValue): a step costs \(pct) % of a UNet step")
        }
        print(lines.joined(separator: "\n"))
    }
}
