import Foundation

/// Converts a LoRA between the kohya layout and the PEFT layout diffusers writes, keeping
/// every factor bit for bit and every module's scale.
///
/// * **kohya**: `lora_unet_…` / `lora_te_…` (SD1/SD2) or `lora_te1_` / `lora_te2_` (SDXL) with
///   `lora_down` / `lora_up` / `alpha`; SDXL UNet modules under SGM names (`input_blocks_4_1_…`,
///   as kohya's SDXL trainer writes them) or diffusers names (``UNetNaming``). LyCORIS families
///   (LoHa, LoKr, Tucker mid, full, norm, IA³, DoRA) keep their own tensors under the new names.
/// * **PEFT**: `unet.<diffusers path>.lora_A.weight` / `.lora_B.weight`,
///   `text_encoder[_2].text_model.<path>.lora_A.weight`, with the safetensors metadata key
///   `lora_adapter_metadata` holding per component the LoraConfig fields diffusers'
///   `load_lora_weights` reads (`r`, `lora_alpha`, `rank_pattern`, `alpha_pattern`,
///   `target_modules`…). `r` / `lora_alpha` are the most common values; every other module is
///   listed in the patterns, so diffusers applies each module with the file's own α/r.
///   Text-encoder keys keep the `text_model.` level (diffusers strips it for transformers 5
///   encoders, transformers 4 encoders need it); pattern and target names omit it, so PEFT's
///   suffix match finds the module either way.
///
/// PEFT LoRA holds plain low-rank modules only: LoHa, LoKr, LoCon with a Tucker mid and full
/// (`diff`) modules are refused unless ``Options/bakeRank`` approximates their ΔW by a rank-N
/// LoRA (SVD, kohya's split `up = U·diag(S)`, `down = Vᵀ`, alpha = rank). DoRA, norm and IA³
/// modules are always refused for PEFT (a DoRA magnitude renormalises by the base weight, which
/// a LoRA file does not carry).
///
/// ```swift
/// let lora = try LoRAFile(contentsOf: input)
/// let report = try LoRAConversion.convert(lora, options: .init(layout: .peft), output: out)
/// ```
public enum LoRAConversion {
    /// The key layout to write.
    public enum Layout: String, Sendable, Codable, CaseIterable {
        case kohya, peft
    }

    /// UNet module names in kohya output.
    public enum UNetNaming: String, Sendable, Codable, CaseIterable {
        /// `lora_unet_down_blocks_1_attentions_0_…` (kohya's SD1/SD2 trainer).
        case diffusers
        /// `lora_unet_input_blocks_4_1_…` (kohya's SDXL trainer).
        case sgm
    }

    /// What to write.
    public struct Options: Sendable {
        public var layout: Layout
        /// kohya only: UNet names; nil writes SGM names for SDXL and diffusers names otherwise.
        public var unetNaming: UNetNaming?
        /// Approximate LoHa / LoKr / Tucker-mid / full modules by plain LoRA of this rank (SVD of ΔW).
        public var bakeRank: Int?
        /// Storage type of floating tensors; nil keeps each tensor's own type (bit-exact copies).
        public var dtype: DType?
        /// Replace an existing output (never the input).
        public var overwrite: Bool

        public init(layout: Layout, unetNaming: UNetNaming? = nil, bakeRank: Int? = nil, dtype: DType? = nil, overwrite: Bool = false) {
            self.layout = layout
            self.unetNaming = unetNaming
            self.bakeRank = bakeRank
            self.dtype = dtype
            self.overwrite = overwrite
        }
    }

    /// A module approximated by a plain LoRA.
    public struct BakedModule: Sendable, Codable, Equatable {
        /// The target (`unet.down_blocks.…`).
        public var module: String
        /// The family it had (`loha`, `lokr`, `locon` with mid, `full`).
        public var family: String
        /// The rank written (the requested rank, capped at min(out, in)).
        public var rank: Int
        /// ‖S[:rank]‖₂ / ‖S‖₂ of ΔW: 1 when the approximation is exact.
        public var frobeniusRetained: Double
    }

    /// What a conversion did.
    public struct Report: Sendable, Codable, Equatable {
        public var outputPath = ""
        public var layout: Layout
        /// The UNet naming of kohya output (nil for PEFT).
        public var unetNaming: UNetNaming?
        /// Modules written.
        public var modulesWritten = 0
        /// Modules approximated by SVD (``Options/bakeRank``).
        public var baked: [BakedModule] = []
        /// Keys of the input that were not carried over, with the reason.
        public var dropped: [MergeReport.SkippedModule] = []
    }

    /// Converts `lora` and writes it to `output`.
    /// - Throws: ``RankToolsError/unsupportedConversion(module:reason:)`` for modules the layout
    ///   cannot hold; ``RankToolsError``; nothing is written on failure and the input is never modified.
    public static func convert(_ lora: LoRAFile, options: Options, output: URL) throws(RankToolsError) -> Report {
        var (writer, report) = try prepare(lora, options: options)
        report.outputPath = output.path
        let inputs = RankToolsOutput.url(of: lora).map { [$0] } ?? []
        switch options.layout {
        case .kohya:
            try RankToolsOutput.writeWithHashes(writer, to: output, overwrite: options.overwrite, protecting: inputs)
        case .peft:
            try RankToolsOutput.checkOutput(output, overwrite: options.overwrite, protecting: inputs)
            try RankToolsOutput.write(writer, to: output, overwrite: options.overwrite, protecting: inputs)
        }
        return report
    }

    /// The output's tensors and metadata, without writing.
    static func prepare(_ lora: LoRAFile, options: Options) throws(RankToolsError) -> (SafetensorsWriter, Report) {
        if let rank = options.bakeRank, rank <= 0 { throw .invalidOption("the bake rank must be positive") }
        if let dtype = options.dtype, !ElementConversion.canEncode(to: dtype) {
            throw .invalidOption("cannot store tensors as \(dtype.rawValue)")
        }
        if let reason = lora.notALoRAReason { throw .invalidInput(path: lora.file.path ?? "input", reason: "not a LoRA: \(reason)") }
        var report = Report(layout: options.layout)
        for u in lora.unrecognized {
            report.dropped.append(.init(module: u.module, reason: u.reason))
        }
        for token in lora.embeddedTokens {
            report.dropped.append(.init(module: token.name, reason: "embedded textual-inversion token: not carried over"))
        }
        let writer: SafetensorsWriter
        switch options.layout {
        case .peft: writer = try peft(lora, options: options, report: &report)
        case .kohya: writer = try kohya(lora, options: options, report: &report)
        }
        return (writer, report)
    }

    // MARK: - Module classes

    enum Handling {
        case plain
        case bake
        case refuse(String)
    }

    /// How a module goes into plain-LoRA output.
    static func handling(_ m: LoRAModule, bake: Bool) -> Handling {
        if m.isDoRA {
            return .refuse("DoRA renormalises by the base weight's norm, which a LoRA file does not carry; keep the kohya layout or merge it into the model")
        }
        switch m.family {
        case .ia3: return .refuse("IA3 scales the weight; it has no additive ΔW")
        case .norm: return .refuse("a norm-layer module is not a low-rank weight delta")
        case .full where m.patchesBias: return .refuse("a bias delta (diff_b) cannot be stored as LoRA")
        case .lora, .locon:
            if m.tensors[.up] != nil, m.tensors[.down] != nil, !m.hasMid { return .plain }
            if m.hasMid { return bake ? .bake : .refuse("LoCon with a Tucker lora_mid") }
            return .refuse("missing up/down factors")
        case .loha, .lokr, .full:
            return bake ? .bake : .refuse("\(m.family.displayName) is not plain LoRA")
        }
    }

    /// The alpha giving the module's scale at `rank`: the stored alpha when it does, else scale·rank.
    static func alpha(of m: LoRAModule, rank: Int) -> Float {
        if let a = m.alpha, a / Float(rank) == m.scale { return a }
        return m.scale * Float(rank)
    }

    /// Factors to write for one module, as writer sources (a view copied byte for byte when the dtype is
    /// kept, or computed values), with their stored types; the math happens on ``LowRankFactors``.
    struct Factors {
        var up: SafetensorsWriter.Source
        var upShape: [Int]
        var upType: DType
        var down: SafetensorsWriter.Source
        var downShape: [Int]
        var downType: DType
        var rank: Int
        var alpha: Float
    }

    /// The module's own factors, copied byte for byte when the dtype is kept.
    static func plainFactors(_ m: LoRAModule, dtype: DType?) throws(RankToolsError) -> Factors {
        guard let up = m.tensors[.up], let down = m.tensors[.down], down.shape.count >= 2, up.shape.count >= 2,
              up.shape[1] == down.shape[0], down.shape[0] > 0 else {
            throw .moduleFailed(module: m.target.description, reason: "up/down factors do not chain")
        }
        let rank = down.shape[0]
        return Factors(up: source(up, dtype), upShape: up.shape, upType: dtype ?? up.dtype,
                       down: source(down, dtype), downShape: down.shape, downType: dtype ?? down.dtype,
                       rank: rank, alpha: alpha(of: m, rank: rank))
    }

    static func source(_ view: TensorView, _ dtype: DType?) -> SafetensorsWriter.Source {
        if let dtype, dtype != view.dtype, view.dtype.isFloatingPoint { return .floats(view.floats()) }
        return .view(view)
    }

    /// A rank-`rank` LoRA of the module's s·ΔW by SVD (alpha = rank, so the scale is 1).
    static func bakedFactors(_ m: LoRAModule, rank: Int, dtype: DType?) throws(RankToolsError) -> (Factors, BakedModule) {
        let natural: DeltaMath.Shaped
        do { try m.checkDeltaSize(fitting: nil); natural = try m.naturalDelta() } catch { throw .lora(error) }
        guard natural.shape.count >= 2, let rows = natural.shape.first, rows > 0, natural.values.count % rows == 0 else {
            throw .moduleFailed(module: m.target.description, reason: "ΔW of shape \(natural.shape) is not a matrix")
        }
        let columns = natural.values.count / rows
        let scaled = natural.values.map { $0 * m.scale }
        let svd = try SingularDecomposition.dense(scaled, rows: rows, columns: columns)
        let r = max(1, min(rank, svd.count))
        let baked = svd.factors(rank: r, layer: natural.shape)
        let type = dtype ?? m.tensors.values.map(\.dtype).filter(\.isFloatingPoint).max() ?? .f32
        let factors = Factors(up: .floats(baked.up), upShape: baked.upShape, upType: type,
                              down: .floats(baked.down), downShape: baked.downShape, downType: type,
                              rank: baked.rank, alpha: Float(baked.rank))
        let family = m.hasMid ? "locon (lora_mid)" : m.family.rawValue
        let choice = RankChoice(rank: r, spectrum: svd.s)
        return (factors, BakedModule(module: m.target.description, family: family, rank: r, frobeniusRetained: choice.frobeniusRetained))
    }

    static func refusal(_ refused: [(module: String, reason: String)], layout: Layout) -> RankToolsError {
        let names = refused.prefix(4).map(\.module).joined(separator: ", ") + (refused.count > 4 ? " and \(refused.count - 4) more" : "")
        let reasons = Array(Set(refused.map(\.reason))).sorted().joined(separator: "; ")
        let hint = refused.contains { !$0.reason.hasPrefix("DoRA") && !$0.reason.hasPrefix("IA3") && !$0.reason.hasPrefix("a ") }
            ? " (pass a bake rank, --bake-rank N, to approximate LoHa/LoKr/Tucker/full modules by plain LoRA)" : ""
        return .unsupportedConversion(module: names, reason: "\(refused.count) module(s) cannot be stored as \(layout.rawValue) LoRA: \(reasons)\(hint)")
    }

    // MARK: - PEFT

    static func peft(_ lora: LoRAFile, options: Options, report: inout Report) throws(RankToolsError) -> SafetensorsWriter {
        var refused: [(module: String, reason: String)] = []
        var planned: [(LoRAModule, Handling)] = []
        for m in lora.modules {
            let h = handling(m, bake: options.bakeRank != nil)
            if case .refuse(let reason) = h { refused.append((m.target.description, reason)) } else { planned.append((m, h)) }
        }
        if !refused.isEmpty { throw refusal(refused, layout: .peft) }

        var writer = SafetensorsWriter()
        var configs: [ModelComponent: [(name: String, rank: Int, alpha: Float)]] = [:]
        for (m, h) in planned {
            let f: Factors
            if case .bake = h, let rank = options.bakeRank {
                let (baked, info) = try bakedFactors(m, rank: rank, dtype: options.dtype)
                f = baked
                report.baked.append(info)
            } else {
                f = try plainFactors(m, dtype: options.dtype)
            }
            let stem = m.target.component.rawValue + "." + m.target.path
            writer.add(.init(name: stem + ".lora_A.weight", dtype: f.downType, shape: f.downShape, source: f.down))
            writer.add(.init(name: stem + ".lora_B.weight", dtype: f.upType, shape: f.upShape, source: f.up))
            configs[m.target.component, default: []].append((patternName(m.target), f.rank, f.alpha))
            report.modulesWritten += 1
        }
        var object: [(String, PEFTConfigJSON)] = []
        for (component, modules) in configs {
            for (field, value) in loraConfig(modules) { object.append((component.rawValue + "." + field, value)) }
        }
        writer.metadata = ["format": "pt", PEFTKeyMapping.metadataKey: PEFTConfigJSON.object(object).pythonJSON()]
        return writer
    }

    /// The module name in PEFT patterns and `target_modules`: the UNet path, or the text-encoder
    /// path without `text_model.` (PEFT matches it as a suffix of either runtime name).
    static func patternName(_ target: ModuleTarget) -> String {
        guard target.component != .unet, target.path.hasPrefix("text_model.") else { return target.path }
        return String(target.path.dropFirst("text_model.".count))
    }

    /// One component's LoraConfig fields: the most common rank and alpha (ties: the smaller), the rest as patterns.
    static func loraConfig(_ modules: [(name: String, rank: Int, alpha: Float)]) -> [(String, PEFTConfigJSON)] {
        func mostCommon<T: Hashable & Comparable>(_ values: [T]) -> T {
            var counts: [T: Int] = [:]
            for v in values { counts[v, default: 0] += 1 }
            return counts.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }!.key
        }
        let r = mostCommon(modules.map(\.rank))
        let alpha = mostCommon(modules.map(\.alpha))
        let rankPattern = modules.filter { $0.rank != r }.map { ($0.name, PEFTConfigJSON.int($0.rank)) }
        let alphaPattern = modules.filter { $0.alpha != alpha }.map { ($0.name, PEFTConfigJSON.number($0.alpha)) }
        return [
            ("alpha_pattern", .object(alphaPattern)),
            ("bias", .string("none")),
            ("fan_in_fan_out", .bool(false)),
            ("init_lora_weights", .bool(true)),
            ("lora_alpha", .number(alpha)),
            ("lora_dropout", .double(0)),
            ("r", .int(r)),
            ("rank_pattern", .object(rankPattern)),
            ("target_modules", .array(Array(Set(modules.map(\.name))).sorted().map(PEFTConfigJSON.string))),
            ("use_dora", .bool(false)),
            ("use_rslora", .bool(false)),
        ]
    }

    // MARK: - kohya

    /// kohya/LyCORIS suffix per tensor role.
    static let kohyaSuffix: [TensorRole: String] = {
        var out: [TensorRole: String] = [.ia3Weight: ".weight"]
        for (suffix, role) in KohyaKeyMapping.suffixes where out[role] == nil { out[role] = suffix }
        return out
    }()

    static func kohya(_ lora: LoRAFile, options: Options, report: inout Report) throws(RankToolsError) -> SafetensorsWriter {
        let base = lora.baseModel.detected
        let usesSecondEncoder = base == .sdxl || lora.modules.contains { $0.target.component == .textEncoder2 }
        let naming = options.unetNaming ?? (base == .sdxl ? .sgm : .diffusers)
        report.unetNaming = naming
        var sgm: UNetBlockMapping?
        if naming == .sgm, lora.modules.contains(where: { $0.target.component == .unet }) {
            guard let base else {
                throw .invalidOption("SGM UNet names need the base model, which could not be detected for this file; use diffusers names")
            }
            sgm = UNetBlockMapping.forBase(base)
        }
        var writer = SafetensorsWriter()
        for m in lora.modules {
            let stem: String
            if m.target.component == .unet, let sgm {
                guard let ldm = sgm.diffusersToLDM[m.target.path] else {
                    throw .moduleFailed(module: m.target.description, reason: "this layer has no SGM name")
                }
                stem = "lora_unet_" + KohyaKeyMapping.flatten(ldm)
            } else {
                stem = KohyaNaming.plainStem(m.target, usesSecondEncoder: usesSecondEncoder)
            }
            let h = handling(m, bake: options.bakeRank != nil)
            if case .bake = h, let rank = options.bakeRank {
                let (f, info) = try bakedFactors(m, rank: rank, dtype: options.dtype)
                addKohya(f, stem: stem, to: &writer, alphaType: options.dtype ?? f.downType)
                report.baked.append(info)
            } else if case .plain = h {
                let f = try plainFactors(m, dtype: options.dtype)
                if let stored = m.tensors[.alpha], options.dtype == nil || options.dtype == stored.dtype {
                    addKohya(f, stem: stem, to: &writer, alphaType: stored.dtype, storedAlpha: stored)
                } else {
                    addKohya(f, stem: stem, to: &writer, alphaType: options.dtype ?? f.downType)
                }
                if let scale = m.tensors[.scale] {
                    // LyCORIS' `.scale` overrides α/r: carried as it is.
                    writer.add(.init(name: stem + ".scale", dtype: scale.dtype, shape: scale.shape, source: .view(scale)))
                }
            } else {
                // LyCORIS families keep their tensors under the new stem.
                for (role, view) in m.tensors {
                    guard let suffix = kohyaSuffix[role] else { continue }
                    var shape = view.shape
                    if role == .doraScale, view.name.hasSuffix("lora_magnitude_vector") || view.name.hasSuffix("lora_magnitude_vector.weight") {
                        // PEFT's magnitude (one per output) is LyCORIS' output-axis dora_scale [out, 1(, 1, 1)].
                        shape = [view.elementCount, 1] + ((m.tensors[.down]?.shape.count ?? 2) == 4 ? [1, 1] : [])
                    }
                    let type = view.dtype.isFloatingPoint ? (options.dtype ?? view.dtype) : view.dtype
                    writer.add(.init(name: stem + suffix, dtype: type, shape: shape, source: source(view, options.dtype)))
                }
                if m.tensors[.alpha] == nil, m.tensors[.scale] == nil, let down = m.tensors[.down], let rank = m.rank, rank > 0 {
                    // A PEFT module's alpha lives in the config; kohya needs it as a tensor.
                    let type = options.dtype ?? down.dtype
                    let a = alpha(of: m, rank: rank)
                    writer.add(name: stem + ".alpha", shape: [], floats: [a], as: roundTrips(a, type) ? type : .f32)
                }
            }
            report.modulesWritten += 1
        }
        writer.metadata = kohyaMetadata(lora, base: base)
        return writer
    }

    static func addKohya(_ f: Factors, stem: String, to writer: inout SafetensorsWriter, alphaType: DType, storedAlpha: TensorView? = nil) {
        writer.add(.init(name: stem + ".lora_down.weight", dtype: f.downType, shape: f.downShape, source: f.down))
        writer.add(.init(name: stem + ".lora_up.weight", dtype: f.upType, shape: f.upShape, source: f.up))
        if let storedAlpha {
            writer.add(storedAlpha, as: stem + ".alpha")
            return
        }
        // Alpha in the factors' type when that holds it exactly, else F32.
        let encoded = ElementConversion.canEncode(to: alphaType) ? alphaType : .f32
        let type = roundTrips(f.alpha, encoded) ? encoded : .f32
        writer.add(name: stem + ".alpha", shape: [], floats: [f.alpha], as: type)
    }

    /// Whether `x` stored as `dtype` reads back unchanged.
    static func roundTrips(_ x: Float, _ dtype: DType) -> Bool {
        switch dtype {
        case .f32, .f64: return true
        case .f16: return Float(Float16(x)) == x
        case .bf16: return Float(bitPattern: x.bitPattern & 0xFFFF_0000) == x
        default: return false
        }
    }

    /// The input's kohya training metadata (without PEFT config and stale hashes), plus the
    /// network module and base model kohya tools look for.
    static func kohyaMetadata(_ lora: LoRAFile, base: BaseModel?) -> [String: String] {
        var meta = (lora.file.metadata ?? [:]).filter { $0.key.hasPrefix("ss_") || $0.key.hasPrefix("modelspec.") }
        if meta["ss_network_module"] == nil {
            let lycoris = lora.modules.contains { ![.lora, .locon].contains($0.family) || $0.isDoRA || $0.hasMid }
            meta["ss_network_module"] = lycoris ? "lycoris.kohya" : "networks.lora"
        }
        if meta["ss_base_model_version"] == nil, let base {
            meta["ss_base_model_version"] = switch base {
            case .sd1: "sd_v1"
            case .sd2: "sd_v2"
            case .sdxl: "sdxl_base_v1-0"
            }
        }
        meta["lorakit_converted_from"] = lora.format.rawValue
        return meta
    }
}

/// The few JSON values the PEFT metadata holds, serialised as Python's
/// `json.dumps(value, indent=2, sort_keys=True)` does (what diffusers' `save_lora_weights` writes).
enum PEFTConfigJSON {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case array([PEFTConfigJSON])
    case object([(String, PEFTConfigJSON)])

    /// An alpha: an integer when it is one (as PEFT configs usually hold it), else the float's value.
    static func number(_ x: Float) -> PEFTConfigJSON {
        if x == x.rounded(), abs(x) < 1e9 { return .int(Int(x)) }
        return .double(Double(x))
    }

    func pythonJSON(indent: Int = 0) -> String {
        let pad = String(repeating: " ", count: indent + 2), close = String(repeating: " ", count: indent)
        switch self {
        case .string(let s): return Self.quoted(s)
        case .int(let i): return String(i)
        case .double(let d):
            if d.isFinite, d == d.rounded(), abs(d) < 1e16 { return String(format: "%.1f", d) }
            return "\(d)"
        case .bool(let b): return b ? "true" : "false"
        case .array(let items):
            guard !items.isEmpty else { return "[]" }
            return "[\n" + items.map { pad + $0.pythonJSON(indent: indent + 2) }.joined(separator: ",\n") + "\n\(close)]"
        case .object(let fields):
            guard !fields.isEmpty else { return "{}" }
            let sorted = fields.sorted { Array($0.0.unicodeScalars.map(\.value)).lexicographicallyPrecedes($1.0.unicodeScalars.map(\.value)) }
            return "{\n" + sorted.map { pad + Self.quoted($0.0) + ": " + $0.1.pythonJSON(indent: indent + 2) }.joined(separator: ",\n") + "\n\(close)}"
        }
    }

    /// A JSON string with Python's `ensure_ascii` escapes.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 || u.value > 0x7E {
                    for unit in String(u).utf16 { out += String(format: "\\u%04x", unit) }
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
