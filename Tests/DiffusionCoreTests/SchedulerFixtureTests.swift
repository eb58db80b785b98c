import Foundation
import Testing
@testable import DiffusionCore

/// Every scheduler against diffusers 0.42.1 reference runs (Tests/DiffusionCoreTests/Fixtures/schedulers,
/// produced by Scripts/fixtures/schedulers.py): timesteps, σ, init_noise_sigma and every intermediate
/// sample of a full loop with a closed-form fake model and the exact noise diffusers drew.
@Suite("Scheduler fixtures (diffusers 0.42.1)")
struct SchedulerFixtureTests {
    @Test("reproduces every diffusers step to 1e-5", arguments: SchedulerKind.allCases)
    func reproducesDiffusers(kind: SchedulerKind) throws {
        let file = try SchedulerFixtureFile.load(kind)
        #expect(!file.cases.isEmpty)
        var summary: [String] = []
        for c in file.cases {
            let r = try replay(c)
            summary.append(String(format: "%@ forced %.2e free %.2e t %.1e σ %.1e", c.id, r.forcedError, r.freeError, r.timestepError, r.sigmaError))
            #expect(r.timestepError <= 2e-3, "\(c.id): timesteps differ by \(r.timestepError)")
            #expect(r.sigmaError <= 1e-5, "\(c.id): sigmas differ (relative) by \(r.sigmaError)")
            #expect(r.initNoiseSigmaError <= 1e-5, "\(c.id): init_noise_sigma differs by \(r.initNoiseSigmaError)")
            #expect(r.initialError <= 1e-5, "\(c.id): add_noise differs by \(r.initialError)")
            #expect(r.noiseMismatch.isEmpty, "\(c.id): \(r.noiseMismatch)")
            #expect(r.failures.isEmpty, "\(c.id): \(r.failures.joined(separator: "; "))")
            #expect(r.denoisedError <= 1e-5, "\(c.id): LCM denoised differs by \(r.denoisedError)")
        }
        if ProcessInfo.processInfo.environment["SCHEDULER_FIXTURE_SUMMARY"] == "1" {
            print(summary.joined(separator: "\n"))
        }
    }
}
