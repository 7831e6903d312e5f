import Engine
import NN

extension ShardedTraining {
    /// Runs `save`, which writes the network's weights through `Module.save` (a task's folder writer), with the weights
    /// of `other` shares (nil: the trained ones) in the model. At stage 3 the model gets them one unit at a time while
    /// its file is written (``NN/PiecewiseWeights``), so no rank holds the whole model; ranks that do not write
    /// (`writes` false) gather the same units in the same order and skip `save`. Stages 1–2 hold the trained weights
    /// whole anyway and gather the `other` ones whole. A collective.
    public func savingWeights(fromShares other: [Tensor]? = nil, writes: Bool, _ save: () throws -> Void) throws {
        guard stage == .parameters else {
            guard let other else { return try writes ? save() : () }
            return try withParameters(fromShares: other) { if writes { try save() } }
        }
        let pieces = UnitPieces(training: self, shares: other ?? shares.shares)
        guard writes else {
            for index in units.indices {
                try pieces.fill(piece: index)
                pieces.empty(piece: index)
            }
            return
        }
        model.piecewiseWeights = pieces
        defer { model.piecewiseWeights = nil }
        try save()
    }

    /// Whether every trained weight is finite on every rank (each checks its shares). A collective.
    public func weightsAreFinite() throws -> Bool {
        let local = shares.shares.map { ($0 - $0).sum() }.reduce(Tensor.zeros([]), +).isNaN().asType(.float32)
        return try processGroup.allSum(local.reshaped([1])).item(Float.self) == 0
    }
}

/// The units of a sharded model as the pieces a piecewise save fills: gathered whole one unit at a time.
private final class UnitPieces: PiecewiseWeights {
    let training: ShardedTraining
    let shares: [Tensor]

    init(training: ShardedTraining, shares: [Tensor]) {
        self.training = training
        self.shares = shares
    }

    var pieceKeys: [[String]] { training.units.map(\.keys) }

    var pieceLayout: [String: (shape: [Int], dtype: DType)] {
        var layout: [String: (shape: [Int], dtype: DType)] = [:]
        for unit in training.units {
            for (i, key) in unit.keys.enumerated() { layout[key] = (unit.shapes[i], unit.dtypes[i]) }
        }
        return layout
    }

    func fill(piece index: Int) throws {
        try training.fillWhole(training.units[index], from: shares[index])
    }

    func empty(piece index: Int) { training.units[index].empty() }
}
