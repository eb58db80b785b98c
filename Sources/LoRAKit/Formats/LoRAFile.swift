import Foundation

/// Keys of a LoRA file that were not turned into a module, with the reason.
public struct UnrecognizedKeys: Sendable, Hashable {
    /// The module part of the keys as spelled in the file (or the key itself).
    public var module: String
    /// The keys.
    public var keys: [String]
    /// Why they were not used.
    public var reason: String
}

/// A textual-inversion token embedded in a LoRA file (cloneofsimo `<s1>`, kohya `emb_params`…).
public struct EmbeddedToken: Sendable, Hashable {
    /// The token (tensor key).
    public var name: String
    /// The embedding's shape.
    public var shape: [Int]
}

/// A LoRA file parsed once into typed modules.
///
/// Parsing reads the header plus a few scalars (`alpha`, `.scale`, `on_input`);
/// tensor data stays in the mapping until a module's ΔW is asked for.
/// Anything not understood is listed in ``unrecognized`` with its reason.
///
/// ```swift
/// let lora = try LoRAFile(contentsOf: URL(fileURLWithPath: "style.safetensors"))
/// print(lora.format, lora.baseModel.detected?.displayName ?? "unknown")
/// for m in lora.modules { print(m.target, m.family, m.rank ?? 0, m.scale) }
/// ```
public final class LoRAFile: Sendable {
    /// The underlying safetensors file.
    public let file: SafetensorsFile
    /// The key spelling most modules use.
    public let format: LoRAFormat
    /// Every key spelling found, with its module count (more than one for mixed files).
    public let formatCounts: [LoRAFormat: Int]
    /// The modules, sorted by target.
    public let modules: [LoRAModule]
    /// Keys not turned into modules, with reasons.
    public let unrecognized: [UnrecognizedKeys]
    /// Things worth telling the user (alpha stored as 0, duplicate targets, ignored residuals…).
    public let warnings: [String]
    /// Embedded textual-inversion tokens (reported; not merged into weights).
    public let embeddedTokens: [EmbeddedToken]
    /// Which base model the file is for, with evidence and conflicts.
    public let baseModel: BaseModelDetection

    /// Maps and parses the file at `url`.
    /// - Throws: ``LoRAError/safetensors(_:)`` when the file is not valid safetensors.
    public convenience init(contentsOf url: URL) throws(LoRAError) {
        let file: SafetensorsFile
        do { file = try SafetensorsFile(contentsOf: url) } catch { throw .safetensors(error) }
        try self.init(file: file)
    }

    /// Parses an already opened safetensors file. A file with no LoRA keys parses to
    /// no modules (everything in ``unrecognized``), so callers can still show it.
    /// - Throws: ``LoRAError`` only for failures reading the file; unknown keys are reported, not thrown.
    public init(file: SafetensorsFile) throws(LoRAError) {
        self.file = file
        var builder = LoRAModuleBuilder(file: file)
        builder.build()
        self.modules = builder.modules.sorted { $0.target < $1.target }
        self.unrecognized = builder.unrecognized.sorted { $0.module < $1.module }
        self.warnings = builder.warnings
        self.embeddedTokens = builder.embeddedTokens
        self.formatCounts = builder.formatCounts
        self.format = builder.formatCounts.max { ($0.value, $1.key.rawValue) < ($1.value, $0.key.rawValue) }?.key ?? .unknown
        self.baseModel = BaseModelDetector.detect(modules: builder.modules, metadata: file.metadata ?? [:],
                                                  kohyaPrefixes: builder.kohyaPrefixes, cloneofsimoBase: builder.cloneofsimoBase)
    }

    /// Whether the file holds at least one module.
    public var isLoRA: Bool { !modules.isEmpty }

    /// The components patched, in order.
    public var components: [ModelComponent] { Array(Set(modules.map(\.target.component))).sorted() }

    /// Module counts per family.
    public var familyCounts: [AdapterFamily: Int] {
        var out: [AdapterFamily: Int] = [:]
        for m in modules { out[m.family, default: 0] += 1 }
        return out
    }

    /// Number of DoRA modules.
    public var doraCount: Int { modules.filter(\.isDoRA).count }

    /// The module patching `target`, if any.
    public func module(for target: ModuleTarget) -> LoRAModule? {
        modules.first { $0.target == target }
    }
}
