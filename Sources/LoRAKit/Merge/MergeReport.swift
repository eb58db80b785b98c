/// What a merge did, per LoRA: the modules applied, the keys left unused and why,
/// the modules skipped and why.
public struct MergeReport: Sendable, Codable, Equatable {
    public struct UnusedKey: Sendable, Codable, Equatable {
        public var key: String
        public var reason: String
        public init(key: String, reason: String) {
            self.key = key
            self.reason = reason
        }
    }

    public struct SkippedModule: Sendable, Codable, Equatable {
        public var module: String
        public var reason: String
    }

    public struct LoRAResult: Sendable, Codable, Equatable {
        public var name: String
        public var strength: Float
        public var unetStrength: Float?
        public var textEncoderStrength: Float?
        /// Modules applied, as `component.path`.
        public var applied: [String] = []
        public var unusedKeys: [UnusedKey] = []
        public var skipped: [SkippedModule] = []
    }

    /// The base model family of the target, when detected.
    public var modelBase: BaseModel?
    /// How the family was told.
    public var modelBaseEvidence: String
    public var loras: [LoRAResult]
    /// Files written (paths).
    public var outputFiles: [String] = []
    /// Tensors written in all, and how many of them were patched.
    public var tensorsWritten = 0
    public var tensorsPatched = 0
    /// The dtype the output was converted to, if any.
    public var outputDType: String?
}

/// Progress of a merge, reported after each tensor.
public struct MergeProgress: Sendable {
    public var file: String
    public var tensorsDone: Int
    public var tensorCount: Int
}
