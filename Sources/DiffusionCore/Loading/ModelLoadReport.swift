import LoRAKit

/// What loading a model read: for each component, the weight files (variant, shards) and where its
/// configuration came from — the model's own files, the tensor shapes of a single file, or the built-in
/// configuration of the detected family.
public struct ModelLoadReport: Sendable, Equatable, Codable {
    /// Where a component's configuration (or, for tokenizers and the scheduler, the component itself) came from.
    public enum Origin: String, Sendable, Equatable, Codable {
        /// The model's own files (`unet/config.json`, `tokenizer/vocab.json`, …).
        case modelFiles = "model-files"
        /// Told from the single file's tensor shapes, the rest from the built-in configuration of the family.
        case inferred
        /// The built-in configuration of the family (what a single file does not hold: tokenizers, scheduler).
        case builtIn = "built-in"
        /// The configuration folder given with ``ModelLoadOptions/configFolder``.
        case configFolder = "config-folder"
        /// A replacement given with ``ModelLoadOptions/vae``.
        case replacement
    }

    /// One component.
    public struct Component: Sendable, Equatable, Codable {
        public var part: ModelPart
        public var origin: Origin
        /// The weight files read (one file, or the shards in order); empty for tokenizers and the scheduler.
        public var weightFiles: [String]
        /// The variant read (`fp16`), nil for plain weights.
        public var variant: String?
        /// The `*.safetensors.index.json` of sharded weights.
        public var shardIndex: String?
        /// What the configuration is: a file path, or the built-in family table used.
        public var configuration: String
    }

    /// The path opened.
    public var path: String
    /// `diffusers-folder` or `single-file`.
    public var layout: String
    /// The family (as LoRA files name theirs: `SD 1.x`, `SD 2.x`, `SDXL`), when told.
    public var family: String?
    /// How the family was told (the tensor measured).
    public var familyEvidence: String
    public var components: [Component]

    /// The entry of `part`.
    public func component(_ part: ModelPart) -> Component? { components.first { $0.part == part } }
}
