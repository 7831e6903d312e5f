import Checkpoints
import Engine
import Foundation
import NN

extension Module {
    /// Strict loading of a checkpoint that holds more than this model (a text tower inside a full CLIP or T5 model):
    /// keys for which `ignoring` is true are skipped, `renaming` maps the remaining checkpoint keys to model keys,
    /// and then every model key must be present and no other key may be left.
    func loadCheckpoint(
        _ url: URL, dtype: DType?, renaming: [String: String] = [:],
        ignoring: (String) -> Bool
    ) throws {
        let checkpoint = try openCheckpoint(path: url)
        // transformers 5 saves some models without their base-model prefix (`embeddings.…` where transformers 4 and
        // the released FLUX/SD folders have `text_model.embeddings.…`): a key that is a model key once prefixed
        // with a wrapper name is taken as that key.
        let modelKeys = Set(namedSlots().map(\.key))
        let wrappers = Set(modelKeys.compactMap { $0.split(separator: ".", maxSplits: 1).first.map(String.init) })
        func modelKey(_ key: String) -> String {
            if let renamed = renaming[key] { return renamed }
            if modelKeys.contains(key) { return key }
            return wrappers.lazy.map { "\($0).\(key)" }.first(where: modelKeys.contains) ?? key
        }
        var tensors: [String: Tensor] = [:]
        for key in checkpoint.keys where !ignoring(key) {
            tensors[modelKey(key)] = try checkpoint.tensor(key)
        }
        try load(tensors, strict: true, dtype: dtype, source: checkpoint.source)
    }
}
