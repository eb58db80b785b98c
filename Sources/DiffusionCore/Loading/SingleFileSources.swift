import Foundation
import LoRAKit

/// The sources of a pipeline read from a single-file checkpoint (LDM/SGM names).
enum SingleFileSources {
    static func load(_ bundle: ModelBundle, options: ModelLoadOptions) throws(PipelineError) -> PipelineSources {
        throw .unreadable(path: bundle.url.path, reason: "single-file checkpoints are not loaded by the pipeline yet")
    }
}
