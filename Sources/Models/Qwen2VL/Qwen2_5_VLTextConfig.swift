import Checkpoints
import Foundation

/// The language-model part of a transformers Qwen2.5-VL `config.json` (Qwen-Image's `text_encoder/`), in either
/// generation's layout:
/// - transformers 5 (`Qwen2_5_VLConfig` with a nested `text_config` holding `rope_parameters` {`rope_type`,
///   `rope_theta`, `mrope_section`});
/// - transformers 4 (the text fields at the top level of the VL config, `rope_theta` beside them and `rope_scaling`
///   {`type`: "mrope", `mrope_section`}, which transformers 4 reads as the default rotary with sections).
/// A field is read from `text_config` when that object has it, else from the top level. Absent optional fields take
/// `Qwen2_5_VLTextConfig`'s defaults:
/// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/models/qwen2_5_vl/configuration_qwen2_5_vl.py
public struct Qwen2_5_VLTextConfig: Decodable, Sendable, Equatable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    /// Grouped-query attention: each key/value head serves `numAttentionHeads / numKeyValueHeads` query heads.
    public var numKeyValueHeads: Int
    public var rmsNormEps: Float = 1e-5
    public var ropeTheta: Float = 1_000_000
    /// "default" (transformers 5) or "mrope" (transformers 4's name for the same rotary with sections).
    public var ropeType = "default"
    /// Frequencies (head_dim / 2 of them) given, in order, to the temporal, height and width position rows.
    public var mropeSection = [16, 24, 24]
    public var hiddenAct = "silu"

    public var headDim: Int { hiddenSize / max(numAttentionHeads, 1) }

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    private struct Rope: Decodable {
        var ropeType: String?
        var type: String?
        var ropeTheta: Float?
        var mropeSection: [Int]?
        enum CodingKeys: String, CodingKey {
            case ropeType = "rope_type", type, ropeTheta = "rope_theta", mropeSection = "mrope_section"
        }
    }

    public init(from decoder: Decoder) throws {
        let top = try decoder.container(keyedBy: Key.self)
        let text =
            top.contains(Key("text_config"))
            ? try top.nestedContainer(keyedBy: Key.self, forKey: Key("text_config")) : nil
        func container(_ name: String) -> KeyedDecodingContainer<Key> {
            if let text, text.contains(Key(name)) { return text }
            return top
        }
        func required<T: Decodable>(_ name: String) throws -> T {
            try container(name).decode(T.self, forKey: Key(name))
        }
        func optional<T: Decodable>(_ name: String) throws -> T? {
            try container(name).decodeIfPresent(T.self, forKey: Key(name))
        }
        vocabSize = try required("vocab_size")
        hiddenSize = try required("hidden_size")
        intermediateSize = try required("intermediate_size")
        numHiddenLayers = try required("num_hidden_layers")
        numAttentionHeads = try required("num_attention_heads")
        // Qwen2's rule: no key/value head count means one per query head.
        numKeyValueHeads = try optional("num_key_value_heads") ?? numAttentionHeads
        rmsNormEps = try optional("rms_norm_eps") ?? rmsNormEps
        hiddenAct = try optional("hidden_act") ?? hiddenAct
        if let rope: Rope = try optional("rope_parameters") ?? optional("rope_scaling") {
            ropeType = rope.ropeType ?? rope.type ?? ropeType
            ropeTheta = rope.ropeTheta ?? ropeTheta
            mropeSection = rope.mropeSection ?? mropeSection
        }
        ropeTheta = try optional("rope_theta") ?? ropeTheta
    }

    /// What does not fit in the config's numbers; empty when it is fine.
    public func problems() -> [String] {
        var c = ConfigChecks()
        c.size("vocab_size", vocabSize)
        c.size("hidden_size", hiddenSize)
        c.size("intermediate_size", intermediateSize)
        c.count("num_hidden_layers", numHiddenLayers)
        c.size("num_attention_heads", numAttentionHeads, limit: ConfigChecks.countLimit)
        c.size("num_key_value_heads", numKeyValueHeads, limit: ConfigChecks.countLimit)
        c.multiple("hidden_size", hiddenSize, of: "num_attention_heads", numAttentionHeads)
        c.multiple("num_attention_heads", numAttentionHeads, of: "num_key_value_heads", numKeyValueHeads)
        c.positive("rms_norm_eps", Double(rmsNormEps))
        c.positive("rope_theta", Double(ropeTheta))
        if !["default", "mrope"].contains(ropeType) {
            c.add("rope type: expected default (or transformers 4's mrope), found '\(ropeType)'")
        }
        if hiddenAct != "silu" { c.add("hidden_act: expected silu, found '\(hiddenAct)'") }
        if mropeSection.count != 3 || mropeSection.contains(where: { $0 < 0 })
            || (numAttentionHeads > 0 && hiddenSize % numAttentionHeads == 0
                && mropeSection.reduce(0, +) != headDim / 2)
        {
            c.add(
                "mrope_section: expected 3 non-negative counts adding up to head_dim / 2 = \(headDim / 2), "
                    + "found \(mropeSection)")
        }
        return c.problems
    }

    /// Reads `config.json` from a folder (or the file) and checks its numbers, reporting every problem at once.
    public static func load(_ url: URL) throws -> Qwen2_5_VLTextConfig {
        let file = url.hasDirectoryPath || url.pathExtension.isEmpty ? url.appendingPathComponent("config.json") : url
        let config = try ConfigFile.decode(Qwen2_5_VLTextConfig.self, from: file)
        var checks = ConfigChecks()
        config.problems().forEach { checks.add($0) }
        try checks.check(file: file.path)
        return config
    }
}
