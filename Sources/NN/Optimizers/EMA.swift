import Checkpoints
import Foundation
import Engine

/// An exponential moving average of a model's trainable parameters: after each ``update(from:)``,
/// shadow ← decay·shadow + (1 − decay)·parameter (computed as shadow − (1 − decay)·(shadow − parameter),
/// diffusers' form). The shadow starts as a copy of the parameters and is kept in float32 whatever their dtype, as
/// DanceGRPO keeps its EMA (fp32, updated once per training step, decay 0.995).
///
/// The decay can ramp up over the first updates (``Warmup``), diffusers' `EMAModel` rules; with warm-up the first
/// update uses decay 0 and copies the parameters.
public final class ExponentialMovingAverage {
    /// How the decay of update n (1-based) is found; every rule is capped at ``decay``.
    public enum Warmup: Sendable, Equatable {
        /// The constant ``decay`` from the first update (DanceGRPO's EMA).
        case none
        /// (1 + t)/(10 + t) with t = n − 1, and 0 for the first update (diffusers `EMAModel`'s default,
        /// `use_ema_warmup=False`).
        case hyperbolic
        /// 1 − (1 + t/inverseGamma)^(−power) with t = n − 1, and 0 for the first update (diffusers with
        /// `use_ema_warmup=True`; power 2/3 suits short runs, 3/4 long ones).
        case power(inverseGamma: Double, power: Double)
    }

    public let decay: Double
    public let warmup: Warmup
    /// Updates taken so far.
    public private(set) var updateCount = 0
    /// The averaged tensors by parameter key (float32).
    public private(set) var shadow: [String: Tensor]

    /// Starts averaging the trainable parameters `model` has now.
    public init(model: Module, decay: Double, warmup: Warmup = .none) {
        precondition(decay >= 0 && decay <= 1, "ExponentialMovingAverage: decay must be in [0, 1], got \(decay)")
        self.decay = decay
        self.warmup = warmup
        shadow = Dictionary(
            uniqueKeysWithValues: model.trainableParameters().map { ($0.key, $0.value.asType(.float32)) })
    }

    /// The decay update number `n` (1-based) uses.
    public func decay(forUpdate n: Int) -> Double {
        let t = Double(n - 1)
        let ramp: Double
        switch warmup {
        case .none: return decay
        case .hyperbolic: ramp = (1 + t) / (10 + t)
        case .power(let inverseGamma, let power): ramp = 1 - Foundation.pow(1 + t / inverseGamma, -power)
        }
        return n <= 1 ? 0 : Swift.min(ramp, decay)
    }

    /// Folds the model's current parameters into the average. Throws, changing nothing, if the model lacks a tracked
    /// parameter or its shape changed.
    public func update(from model: Module) throws {
        let current = try trackedParameters(of: model)
        let oneMinusDecay = Float(1 - decay(forUpdate: updateCount + 1))
        for (key, value) in current {
            let s = shadow[key]!
            shadow[key] = s - (s - value.asType(.float32)) * oneMinusDecay
        }
        updateCount += 1
    }

    /// Writes the averaged values into the model (cast to each parameter's dtype).
    public func copy(to model: Module) throws {
        let current = try trackedParameters(of: model)
        var averaged: [String: Tensor] = [:]
        for (key, value) in current { averaged[key] = shadow[key]!.asType(value.dtype) }
        model.update(parameters: averaged)
    }

    /// Runs `body` with the averaged values in the model (to sample or save with them), then puts the trained
    /// values back, also when `body` throws.
    public func withAveragedParameters<R>(in model: Module, _ body: () throws -> R) throws -> R {
        let original = try trackedParameters(of: model)
        try copy(to: model)
        defer { model.update(parameters: original) }
        return try body()
    }

    /// The tensors the average depends on, to evaluate at the loop boundary.
    public var tensorsToEvaluate: [Tensor] { Array(shadow.values) }

    private func trackedParameters(of model: Module) throws -> [String: Tensor] {
        let parameters = model.parameters()
        var problems: [String] = []
        var result: [String: Tensor] = [:]
        for key in shadow.keys.sorted() {
            guard let value = parameters[key] else { problems.append("model has no parameter '\(key)'"); continue }
            if value.shape != shadow[key]!.shape {
                problems.append("'\(key)' has shape \(value.shape), the average has \(shadow[key]!.shape)")
                continue
            }
            result[key] = value
        }
        guard problems.isEmpty else {
            throw OptimizerError.emaModelMismatch(problems: problems)
        }
        return result
    }

    // MARK: - Saving and restoring

    /// The state as flat tensors: `shadow.<parameter>` (float32) and `update_count` (int32).
    public func stateTensors() -> [String: Tensor] {
        var result = ["update_count": Tensor(Int32(updateCount))]
        for (key, value) in shadow { result["shadow.\(key)"] = value }
        return result
    }

    /// Restores a state written by ``stateTensors()``: it must hold exactly the tracked parameters, with their shapes.
    public func loadState(_ tensors: [String: Tensor], source: String = "EMA state") throws {
        var problems: [String] = []
        var loaded: [String: Tensor] = [:]
        for key in tensors.keys.sorted() where key != "update_count" {
            guard key.hasPrefix("shadow.") else { problems.append("unexpected key '\(key)'"); continue }
            let parameter = String(key.dropFirst("shadow.".count))
            guard let expected = shadow[parameter]?.shape else {
                problems.append("'\(parameter)' is not averaged here"); continue
            }
            let found = tensors[key]!.shape
            if found != expected { problems.append("'\(key)': shape \(found), expected \(expected)"); continue }
            loaded[parameter] = tensors[key]!.asType(.float32)
        }
        let missing = shadow.keys.filter { loaded[$0] == nil && tensors["shadow.\($0)"] == nil }.sorted()
        if !missing.isEmpty {
            problems.append("missing \(missing.prefix(8).map { "'shadow.\($0)'" }.joined(separator: ", "))")
        }
        let count = tensors["update_count"]
        if count == nil || count!.count != 1 { problems.append("missing scalar 'update_count'") }
        guard problems.isEmpty, let count else {
            throw OptimizerError.emaStateMismatch(source: source, problems: problems)
        }
        shadow = loaded
        updateCount = Int(count.item(Int32.self))
    }

    /// Descriptive metadata for a saved state (the decay and its warm-up rule).
    public var stateMetadata: [String: String] { ["ema_decay": "\(decay)", "ema_warmup": "\(warmup)"] }

    public func saveState(to url: URL) throws {
        try SafeTensors.save(stateTensors(), metadata: stateMetadata, to: url)
    }

    /// Reads a state written by ``saveState(to:)``, passed through `converting` first (sharded training cuts a
    /// per-parameter state into its shares).
    public func loadState(
        from url: URL, converting: ([String: Tensor]) throws -> [String: Tensor] = { $0 }
    ) throws {
        try loadState(converting(SafeTensors.load(url)), source: url.path)
    }
}
