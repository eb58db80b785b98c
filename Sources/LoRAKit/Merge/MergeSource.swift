import Foundation

/// One LoRA to merge: its patches, what it is for, and how strongly to apply it.
public struct MergeSource: Sendable {
    /// A display name (the file name or library name).
    public var name: String
    /// The patches, applied in order.
    public var patches: [any WeightPatch]
    /// Keys of the file that no patch uses (with the reason), reported as unused.
    public var unusedKeys: [MergeReport.UnusedKey]
    /// The family the LoRA was made for, when known.
    public var baseModel: BaseModel?
    /// λ for every component unless overridden below. Negative values subtract.
    public var strength: Float
    /// λ for UNet patches, when different.
    public var unetStrength: Float?
    /// λ for text-encoder patches, when different.
    public var textEncoderStrength: Float?
    /// The file the patches were read from, when there is one: a merge never writes over it.
    public var sourceFile: URL?

    public init(name: String, patches: [any WeightPatch], unusedKeys: [MergeReport.UnusedKey] = [], baseModel: BaseModel?,
                strength: Float, unetStrength: Float? = nil, textEncoderStrength: Float? = nil, sourceFile: URL? = nil) {
        self.name = name
        self.patches = patches
        self.unusedKeys = unusedKeys
        self.baseModel = baseModel
        self.strength = strength
        self.unetStrength = unetStrength
        self.textEncoderStrength = textEncoderStrength
        self.sourceFile = sourceFile
    }

    /// The strength used for a patch of `component`.
    public func strength(for component: ModelComponent) -> Float {
        component == .unet ? (unetStrength ?? strength) : (textEncoderStrength ?? strength)
    }
}
