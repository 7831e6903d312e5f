import Engine
import NN

/// Data-parallel training state sharded over the ranks (ZeRO stages 1–3; stage 0 needs none of this): the trained
/// tensors are grouped into units (one per checkpointed block, one for the rest), each laid out flat and split into
/// equal shares (``ShardUnit``); this rank's float32 shares are the parameters of a small module (``ShareModule``)
/// that the optimizer (and the EMA) update with their ordinary code, so AdamW's moments exist only for the shares.
///
/// - Stage 1: every call's gradients are accumulated whole; the optimizer step all-sums them (one collective),
///   updates this rank's share and all-gathers the new weights into the model.
/// - Stage 2: each call's gradients are reduce-scattered at once, so only this rank's share is accumulated.
/// - Stage 3: the model does not keep the trained weights between passes. ``valueAndGrad(computeDType:_:)``
///   differentiates with respect to the shares: a unit's weights are gathered (``ProcessGroup/shardGather(_:pieces:)``,
///   whose gradient is the reduce-scatter of the cotangents) where the network uses them, and for checkpointed blocks
///   inside the block's checkpoint, so a block's gathered weights are dropped after its forward and gathered again for
///   its backward. Sampling gathers each block for its call, saving one unit at a time
///   (``withGatheredParameters(forward:_:)``, ``savingWeights(fromShares:writes:_:)``).
///
/// Gradients are averaged over the ranks as stage 0 averages them, the global norm is the norm of the whole averaged
/// gradient, and a step that would make a weight non-finite on any rank is taken back on all, so every stage takes
/// the steps stage 0 takes (up to float rounding of the sums).
public final class ShardedTraining {
    public let stage: ZeroStage
    public let processGroup: ProcessGroup
    /// The network being trained.
    public let model: Module
    let units: [ShardUnit]
    let shares: ShareModule
    /// The optimizer over this rank's shares (keys `units.<i>.share`).
    public let optimizer: Optimizer
    /// Per unit, what the current window accumulated: whole flat gradients (stage 1) or this rank's share of their
    /// sum over ranks (stages 2 and 3).
    private var accumulated: [Tensor?]
    /// This rank's shares of the initial weights, the KL penalty's reference policy (sharded like the weights).
    private let referenceShares: [Tensor]?
    /// Mixed precision's compute dtype for forward passes that gather block by block (the trainer sets it; training
    /// passes take theirs from ``valueAndGrad(computeDType:_:)``).
    public var forwardDType: DType?
    /// The units that are checkpointed blocks, with their module (stage 3 gathers them inside the checkpoint).
    private let blockUnits: [(unit: Int, block: Module)]

    /// Shards `model`'s trainable tensors. `blocks` are the network's checkpointed blocks (each becomes a unit);
    /// `makeOptimizer` builds the optimizer for a module of shares (the trainer's AdamW with its settings). Every rank
    /// must hold the same weights when this is called.
    public init(
        model: Module, stage: ZeroStage, processGroup: ProcessGroup, blocks: [Module] = [],
        keepsReference: Bool = false, makeOptimizer: (Module) -> Optimizer
    ) throws {
        precondition(stage != .replicated, "ShardedTraining: stage 0 keeps everything replicated")
        self.stage = stage
        self.processGroup = processGroup
        self.model = model
        let trainable = model.namedSlots().filter { !$0.slot.isFrozen }.sorted { $0.key < $1.key }
        let blockKeys = Self.blockKeys(model, blocks)
        var units: [ShardUnit] = []
        var claimed = Set<String>()
        var blockUnits: [(Int, Module)] = []
        for (prefix, block) in blockKeys {
            let entries = trainable.filter { $0.key.hasPrefix(prefix + ".") }
            guard !entries.isEmpty else { continue }
            claimed.formUnion(entries.map(\.key))
            blockUnits.append((units.count, block))
            units.append(ShardUnit(name: prefix, entries: entries, worldSize: processGroup.worldSize))
        }
        let rest = trainable.filter { !claimed.contains($0.key) }
        if !rest.isEmpty { units.append(ShardUnit(name: "", entries: rest, worldSize: processGroup.worldSize)) }
        self.units = units
        self.blockUnits = blockUnits
        let rank = processGroup.rank
        shares = ShareModule(units.map { $0.shareOfModel(rank: rank) })
        eval(shares.shares)
        referenceShares = keepsReference ? shares.shares : nil
        optimizer = makeOptimizer(shares)
        accumulated = Array(repeating: nil, count: units.count)
        if stage == .parameters { release() }
    }

    /// The dotted key of each block in the model, in the order given.
    private static func blockKeys(_ model: Module, _ blocks: [Module]) -> [(String, Module)] {
        let keys = Dictionary(
            model.namedModules().map { (ObjectIdentifier($0.module), $0.key) }, uniquingKeysWith: { first, _ in first })
        return blocks.compactMap { block in keys[ObjectIdentifier(block)].map { ($0, block) } }
    }

    // MARK: - Weights in the model

    /// Empties the model's trained slots (stage 3 between passes).
    private func release() {
        for unit in units { unit.empty() }
        for (_, block) in blockUnits { block.parameterSource = nil }
    }

    /// Whether the network's blocks run through their checkpoints now, where stage 3 gathers a block's weights for
    /// its call and drops them once the pass has used them.
    private var blocksCheckpointed: Bool { (model as? GradientCheckpointable)?.gradientCheckpointing ?? false }

    /// Writes the weights into the model from per-unit shares: each unit gathered whole over the ranks (one at a
    /// time), or, for `forward` passes that can gather blockwise, the blocks left to gather inside their checkpoints.
    private func install(_ unitShares: [Tensor], forward: Bool) throws {
        let blockwise =
            forward && stage == .parameters && blocksCheckpointed ? Dictionary(uniqueKeysWithValues: blockUnits) : [:]
        for (i, (unit, share)) in zip(units, unitShares).enumerated() {
            if let block = blockwise[i] {
                block.parameterSource = UnitSource(
                    unit: unit, share: share, processGroup: processGroup, dtype: forwardDType)
                continue
            }
            try fillWhole(unit, from: share)
        }
    }

    /// Gathers a unit's share over the ranks and puts its tensors, whole and evaluated, into the model's slots.
    func fillWhole(_ unit: ShardUnit, from share: Tensor) throws {
        let whole = try processGroup.allGather(share)
        for (slot, tensor) in zip(unit.slots, unit.split(whole)) { slot.value = tensor }
        eval(unit.slots.map { $0.value! })
    }

    /// Runs `body` with the trained weights in the model (stage 3 gathers them and empties the slots again
    /// afterwards; stages 1 and 2 keep them whole anyway). `forward`: `body` only runs the network forward (sampling,
    /// evaluation), so stage 3 with checkpointed blocks gathers each block only for its call; otherwise (saving,
    /// comparing) every weight is whole in the model. A collective: every rank calls it at the same point.
    public func withGatheredParameters<R>(forward: Bool = false, _ body: () throws -> R) throws -> R {
        guard stage == .parameters else { return try body() }
        try install(shares.shares, forward: forward)
        defer { release() }
        return try body()
    }

    /// Runs `body` with the weights some other shares describe (the EMA's average) in the model, and puts the
    /// trained ones back afterwards; `forward` as in ``withGatheredParameters(forward:_:)``. A collective.
    public func withParameters<R>(fromShares other: [Tensor], forward: Bool = false, _ body: () throws -> R) throws
        -> R
    {
        let saved = units.map { $0.slots.map(\.value) }
        try install(other, forward: forward)
        defer {
            for (_, block) in blockUnits { block.parameterSource = nil }
            for (unit, values) in zip(units, saved) {
                for (slot, value) in zip(unit.slots, values) { slot.value = value }
            }
        }
        return try body()
    }

    /// Takes the weights now in the model as the trained ones (after loading a checkpoint into
    /// ``withGatheredParameters(_:)``'s model): every rank re-cuts its shares from them.
    public func adoptModelParameters() {
        let rank = processGroup.rank
        for (i, unit) in units.enumerated() { shares.units[i].share = unit.shareOfModel(rank: rank) }
        eval(shares.shares)
    }

    /// This rank's shares, in unit order (the module the optimizer updates holds them).
    public var shareModule: Module { shares }
    /// The share module's parameter keys, in unit order.
    public var shareKeys: [String] { units.indices.map(ShareModule.key) }

    /// Whether the initial weights are kept as the KL reference (`keepsReference`).
    public var hasReference: Bool { referenceShares != nil }

    /// Runs `body`, a forward pass, with the reference weights (the initial ones) in the model. A collective.
    public func withReferenceParameters<R>(_ body: () throws -> R) throws -> R {
        guard let referenceShares else { preconditionFailure("ShardedTraining: created without keepsReference") }
        return try withParameters(fromShares: referenceShares, forward: true, body)
    }

    // MARK: - Gradients

    /// The loss's values and its gradients, per unit: stages 1–2 flat whole gradients of this rank's loss; stage 3
    /// this rank's share of their sum over the ranks. `loss` is the same closure ``NN/valueAndGrad(model:_:)``
    /// takes: it runs the network, which reads the weights from the model. `computeDType` (mixed precision): the
    /// network sees the weights cast to it, the gradients come back in float32.
    public func valueAndGrad(computeDType: DType? = nil, _ loss: @escaping () -> [Tensor]) -> (
        values: [Tensor], gradients: [Tensor]
    ) {
        guard stage == .parameters else {
            let (values, gradients) = NN.valueAndGrad(model: model, computeDType: computeDType, loss)
            return (values, units.map { unit in unit.flatten(unit.keys.map { gradients[$0]! }) })
        }
        let gatheredInside = blocksCheckpointed ? Set(blockUnits.map(\.unit)) : []
        let function = differentiating { [self] (traced: [Tensor]) -> [Tensor] in
            for (i, unit) in units.enumerated() where !gatheredInside.contains(i) {
                UnitSource(unit: unit, share: traced[i], processGroup: processGroup, dtype: computeDType)
                    .materialize([traced[i]])
            }
            for (i, block) in blockUnits where gatheredInside.contains(i) {
                block.parameterSource = UnitSource(
                    unit: units[i], share: traced[i], processGroup: processGroup, dtype: computeDType)
            }
            defer {
                for (_, block) in blockUnits { block.parameterSource = nil }
                release()
            }
            return loss()
        }
        return function(shares.shares)
    }

    /// Adds one call's gradients (from ``valueAndGrad(_:)``) to the window; stage 2 reduce-scatters them first.
    /// Lazy, like the gradients: evaluate ``accumulatedTensors`` with the call's other outputs.
    public func accumulate(_ gradients: [Tensor]) {
        for i in units.indices {
            let g = stage == .gradients ? processGroup.sumScatter(gradients[i]) : gradients[i]
            accumulated[i] = accumulated[i].map { $0 + g } ?? g
        }
    }

    /// The window's accumulated gradients, in unit order (evaluate them in this order on every rank: the graph holds
    /// collectives, which every rank must run in the same order).
    public var accumulatedTensors: [Tensor] { accumulated.compactMap { $0 } }

    /// Forgets the window's gradients (an incomplete final window trains nothing).
    public func discardAccumulated() { accumulated = Array(repeating: nil, count: units.count) }

    // MARK: - The optimizer step

    /// The optimizer step on the accumulated window: gradients averaged over the ranks, clipped to a global norm of
    /// `maxNorm` (PyTorch's rule), this rank's shares updated, and (stages 1–2) the new weights gathered into the
    /// model. Returns why the step was skipped (nil: applied) and the norm before clipping. `loss` (one process
    /// only) skips a step whose loss is not finite. With fp16's `lossScaler` the gradients are unscaled first and the
    /// scaler learns whether they overflowed, as `guardedStep` does.
    public func step(maxNorm: Float, loss: Float?, lossScaler: LossScaler? = nil) throws -> (
        skipped: SkippedStep?, norm: Float
    ) {
        defer { discardAccumulated() }
        let scale = processGroup.gradientAverageScale / (lossScaler?.scale ?? 1)
        var gradients: [Tensor]
        var squares: Tensor
        if stage == .optimizerState {
            let flat = concatenated(accumulated.map { $0! }, axis: 0)
            let mean = try processGroup.allSum(flat) * scale
            var offset = 0
            gradients = []
            squares = Tensor.zeros([])
            for unit in units {
                let whole = mean[offset..<(offset + unit.worldSize * unit.shareSize)]
                offset += unit.worldSize * unit.shareSize
                squares = squares + whole.square().sum()
                gradients.append(unit.share(of: whole, rank: processGroup.rank))
            }
        } else {
            gradients = accumulated.map { $0! * scale }
            let local = gradients.dropFirst().reduce(gradients[0].square().sum()) { $0 + $1.square().sum() }
            squares = try processGroup.allSum(local.reshaped([1])).reshaped([])
        }
        let normTensor = squares.sqrt()
        let norm = normTensor.item(Float.self)
        // PyTorch's clip rule on the global norm (clipGradientNorm's), then the guard every optimizer step takes.
        let coefficient = (maxNorm / (normTensor + 1e-6)).minimum(1)
        var named: [String: Tensor] = [:]
        for (i, g) in gradients.enumerated() { named[ShareModule.key(i)] = g * coefficient }
        let skipped = try guardedStep(
            optimizer: optimizer, gradients: named, norm: norm, loss: loss, lossScaler: lossScaler,
            weightsAreFinite: { _ in try self.weightsAreFinite() })
        if skipped == nil && stage != .parameters { try install(shares.shares, forward: false) }
        return (skipped, norm)
    }
}

/// The engine's `valueAndGrad` (the class's own method shadows the name inside it).
private func differentiating(_ function: @escaping ([Tensor]) -> [Tensor]) -> ([Tensor]) -> (
    values: [Tensor], gradients: [Tensor]
) {
    valueAndGrad(function)
}

/// One unit's weights from this rank's share: gathered over the ranks and cut into the unit's tensors.
private final class UnitSource: ParameterSource {
    let unit: ShardUnit
    let share: Tensor
    let processGroup: ProcessGroup
    /// The dtype the weights are built in (mixed precision's compute dtype; nil: each tensor's own).
    let dtype: DType?

    init(unit: ShardUnit, share: Tensor, processGroup: ProcessGroup, dtype: DType?) {
        self.unit = unit
        self.share = share
        self.processGroup = processGroup
        self.dtype = dtype
    }

    var sourceInputs: [Tensor] { [share] }

    func materialize(_ inputs: [Tensor]) {
        let pieces = processGroup.shardGather(inputs[0], pieces: unit.sizes)
        for (slot, tensor) in zip(unit.slots, unit.shaped(pieces, dtype: dtype)) { slot.value = tensor }
    }

    func release() { unit.empty() }
}
