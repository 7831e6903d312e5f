import Checkpoints
import Engine
import Foundation

/// A checkpoint seen without the keys `ignoring` picks: diffusers' `_keys_to_ignore_on_load_unexpected`, tensors
/// older versions of a model saved that the current module no longer has. Tensors are still read one at a time, so
/// a strict load over it keeps the streaming loader's peak memory.
final class CheckpointKeyFilter: CheckpointSource {
    private let base: any CheckpointSource
    let keys: [String]

    init(_ base: any CheckpointSource, ignoring: (String) -> Bool) {
        self.base = base
        keys = base.keys.filter { !ignoring($0) }
    }

    var source: String { base.source }
    func dtypeAndShape(_ key: String) -> (dtype: DType, shape: [Int])? { base.dtypeAndShape(key) }
    func tensor(_ key: String) throws -> Tensor { try base.tensor(key) }
    func bytes(_ key: String) throws -> Data { try base.bytes(key) }
    func tensors() throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for key in keys { out[key] = try base.tensor(key) }
        return out
    }
}
