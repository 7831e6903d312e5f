import Checkpoints
import Foundation
import Engine

/// A problem with what an optimizer or an EMA was given: gradients that do not fit the model, or a saved state that
/// does not fit the optimizer. The message names the keys involved.
/// Gradients, a saved state or a model that do not fit an optimizer or an ``EMA``. `problems` lists what is wrong,
/// one line each; descriptions show at most eight.
public enum OptimizerError: Error, CustomStringConvertible, Sendable {
    /// ``Optimizer/step(gradients:)`` got gradients for unknown parameters or with wrong shapes; `optimizer` is the
    /// optimizer's kind.
    case badGradients(optimizer: String, problems: [String])
    /// An optimizer state (from `source`) has unexpected, missing or misshapen tensors for this `optimizer` kind.
    case stateMismatch(source: String, optimizer: String, problems: [String])
    /// The state file `file` was written by another kind of optimizer (`writer`) than this one (`optimizer`).
    case wrongOptimizerKind(file: String, writer: String, optimizer: String)
    /// An ``EMA`` state (from `source`) does not hold exactly the averaged parameters with their shapes.
    case emaStateMismatch(source: String, problems: [String])
    /// The model given to an ``EMA`` lacks averaged parameters or has them in other shapes.
    case emaModelMismatch(problems: [String])

    public var description: String {
        func listed(_ problems: [String]) -> String { problems.prefix(8).joined(separator: "\n  ") }
        switch self {
        case .badGradients(let optimizer, let problems):
            return "\(optimizer).step: \(problems.count) bad gradient(s):\n  " + listed(problems)
        case .stateMismatch(let source, let optimizer, let problems):
            return "\(source): does not fit this \(optimizer):\n  " + listed(problems)
                + (problems.count > 8 ? "\n  … (\(problems.count) problems)" : "")
        case .wrongOptimizerKind(let file, let writer, let optimizer):
            return "\(file): optimizer state written by \(writer), cannot load into \(optimizer)"
        case .emaStateMismatch(let source, let problems):
            return "\(source): does not fit this EMA:\n  " + listed(problems)
        case .emaModelMismatch(let problems):
            return "EMA: the model does not match the average:\n  " + listed(problems)
        }
    }
}

/// Base of the optimizers: updates a module's trainable parameters, keyed by their dotted names, from gradients keyed
/// the same way (what ``valueAndGrad(model:_:)`` returns).
///
/// The learning rate of each step comes from ``schedule`` at ``stepCount``, the number of steps already taken: the
/// first step uses `schedule.learningRate(at: 0)`, as PyTorch does with a `LambdaLR` stepped after each
/// `optimizer.step()`. Scalar hyper-parameter arithmetic is done in `Double`, as PyTorch does with Python floats, and
/// each scalar is rounded to float32 where it meets a tensor.
///
/// Updates are lazy like every engine op: after ``step(gradients:)``, evaluate ``tensorsToEvaluate`` (the new
/// parameters and the optimizer state) at the loop boundary, or the graph grows from step to step.
///
/// Subclasses implement ``update(key:parameter:gradient:learningRate:)`` and name their per-parameter state tensors in
/// ``stateNames``; the base class handles keys, validation, the step counter and saving.
open class Optimizer {
    /// The module whose trainable parameters are updated.
    public let model: Module
    /// Learning rate as a function of the step index.
    public var schedule: LRSchedule
    /// Steps taken so far (the index of the next step in ``schedule``).
    public internal(set) var stepCount = 0
    /// Per-parameter state by parameter key, then state name (`exp_avg`), as PyTorch's `optimizer.state` is laid out.
    /// A parameter has no entry until its first update.
    public internal(set) var state: [String: [String: Tensor]] = [:]

    public init(model: Module, schedule: LRSchedule) {
        self.model = model
        self.schedule = schedule
    }

    /// The learning rate the next step will use.
    public var learningRate: Double { schedule.learningRate(at: stepCount) }

    /// Names of the per-parameter state tensors (saved as `state.<parameter>.<name>`), e.g. `exp_avg`.
    open var stateNames: [String] { [] }

    /// A name written into saved states so that a state is not loaded into a different kind of optimizer.
    open var kind: String { String(describing: type(of: self)) }

    /// The new value of one parameter. Called once per parameter that has a gradient, in the model's key order;
    /// implementations record their state in ``state``.
    open func update(key: String, parameter: Tensor, gradient: Tensor, learningRate: Double) -> Tensor {
        preconditionFailure("\(kind) must override update(key:parameter:gradient:learningRate:)")
    }

    /// One optimizer step. Parameters without a gradient are left alone (no weight decay, no state change), as in
    /// PyTorch when `param.grad is None`. Throws, before changing anything, if a gradient names a tensor that is not a
    /// trainable parameter of the model or has another shape.
    public func step(gradients: [String: Tensor]) throws {
        let trainable = model.trainableParameters()
        try validate(gradients: gradients, against: trainable)
        let lr = learningRate
        var updated: [String: Tensor] = [:]
        for (key, parameter) in trainable {
            guard let gradient = gradients[key] else { continue }
            updated[key] = update(key: key, parameter: parameter, gradient: gradient, learningRate: lr)
        }
        model.update(parameters: updated)
        stepCount += 1
    }

    /// The tensors one step produced and the caller should evaluate together: trainable parameters and state.
    public var tensorsToEvaluate: [Tensor] {
        model.trainableParameters().map(\.value) + state.values.flatMap(\.values)
    }

    private func validate(gradients: [String: Tensor], against trainable: [(key: String, value: Tensor)]) throws {
        let shapes = Dictionary(uniqueKeysWithValues: trainable.map { ($0.key, $0.value.shape) })
        var problems: [String] = []
        for key in gradients.keys.sorted() {
            guard let shape = shapes[key] else {
                problems.append("gradient '\(key)' is not a trainable parameter of the model")
                continue
            }
            let found = gradients[key]!.shape
            if found != shape { problems.append("gradient '\(key)' has shape \(found), parameter has \(shape)") }
        }
        guard problems.isEmpty else {
            throw OptimizerError.badGradients(optimizer: kind, problems: problems)
        }
    }

    // MARK: - Saving and restoring

    /// The optimizer's state as flat tensors: `step` (int32, ``stepCount``) and `state.<parameter>.<name>` (float32).
    /// Subclasses with more state add keys.
    open func stateTensors() -> [String: Tensor] {
        var result: [String: Tensor] = ["step": Tensor(Int32(stepCount))]
        for (key, entries) in state {
            for (name, tensor) in entries { result["state.\(key).\(name)"] = tensor }
        }
        return result
    }

    /// Descriptive metadata for a saved state (the optimizer kind and its hyper-parameters).
    open var stateMetadata: [String: String] { ["optimizer": kind] }

    /// Restores a state written by ``stateTensors()``. Every problem is reported at once (unknown keys, parameters
    /// the model does not train, wrong shapes, a missing `step`), and nothing changes unless the whole state fits.
    open func loadState(_ tensors: [String: Tensor], source: String = "optimizer state") throws {
        let (steps, entries) = try parseState(tensors, extraNames: [], source: source)
        stepCount = steps
        state = entries
    }

    /// Splits and checks a saved state. `extraNames` are per-parameter scalars a subclass saves besides
    /// ``stateNames`` (returned inside the entries, unchecked for shape).
    func parseState(_ tensors: [String: Tensor], extraNames: Set<String>, source: String) throws
        -> (stepCount: Int, entries: [String: [String: Tensor]])
    {
        let shapes = Dictionary(uniqueKeysWithValues: model.trainableParameters().map { ($0.key, $0.value.shape) })
        let names = Set(stateNames)
        var problems: [String] = []
        var entries: [String: [String: Tensor]] = [:]
        var steps: Int?
        for key in tensors.keys.sorted() {
            let tensor = tensors[key]!
            if key == "step" {
                if tensor.count == 1 {
                    steps = Int(tensor.item(Int32.self))
                } else {
                    problems.append("'step' is not a scalar")
                }
                continue
            }
            guard key.hasPrefix("state."), let dot = key.lastIndex(of: ".") else {
                problems.append("unexpected key '\(key)'")
                continue
            }
            let parameter = String(key[key.index(key.startIndex, offsetBy: 6)..<dot])
            let name = String(key[key.index(after: dot)...])
            guard names.contains(name) || extraNames.contains(name) else {
                problems.append("'\(key)': \(kind) keeps no state named '\(name)'")
                continue
            }
            guard let shape = shapes[parameter] else {
                problems.append("'\(key)': '\(parameter)' is not a trainable parameter of the model")
                continue
            }
            if names.contains(name), tensor.shape != shape {
                problems.append("'\(key)': shape \(tensor.shape), parameter has \(shape)")
                continue
            }
            entries[parameter, default: [:]][name] = names.contains(name) ? tensor.asType(.float32) : tensor
        }
        for (parameter, values) in entries {
            let missing = (stateNames + extraNames.sorted()).filter { values[$0] == nil }
            if !missing.isEmpty { problems.append("'\(parameter)': missing \(missing.joined(separator: ", "))") }
        }
        if steps == nil { problems.append("missing 'step'") }
        guard problems.isEmpty, let steps else {
            throw OptimizerError.stateMismatch(source: source, optimizer: kind, problems: problems)
        }
        return (steps, entries)
    }

    /// Writes the state to a safetensors file (``stateTensors()`` plus ``stateMetadata``).
    public func saveState(to url: URL) throws {
        try SafeTensors.save(stateTensors(), metadata: stateMetadata, to: url)
    }

    /// Reads a state written by ``saveState(to:)``; refuses one written by another kind of optimizer. The tensors
    /// pass through `converting` first (sharded training cuts a per-parameter state into its shares).
    public func loadState(
        from url: URL, converting: ([String: Tensor]) throws -> [String: Tensor] = { $0 }
    ) throws {
        let (tensors, metadata) = try SafeTensors.loadWithMetadata(url)
        if let writer = metadata["optimizer"], writer != kind {
            throw OptimizerError.wrongOptimizerKind(file: url.path, writer: writer, optimizer: kind)
        }
        try loadState(converting(tensors), source: url.path)
    }
}
