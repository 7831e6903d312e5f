import Checkpoints
import Engine
import Foundation

/// The scheduler a diffusers folder names, read from `scheduler/scheduler_config.json`.
///
/// Selection: the file's `_class_name` picks the scheduler, `FlowMatchEulerDiscreteScheduler` (FLUX, SD3, …) or
/// `UniPCMultistepScheduler` (Wan 2.1/2.2), and the rest of the file is decoded as that scheduler's config (the same
/// `Config.load` rules each scheduler has on its own: unknown fields ignored, unsupported values refused naming file
/// and key); any other class is an error that names it. diffusers' pipelines take the class from `model_index.json`,
/// whose `scheduler` entry names the same class as `_class_name` in the released folders. FLUX's pipeline reads its
/// folder with `FlowMatchEulerScheduler.Config.load` (it only samples with Euler); a pipeline that samples with its
/// folder's scheduler, as `WanPipeline` does, loads this instead and steps a ``FolderScheduler``.
public enum SchedulerConfig: Sendable, Equatable {
    case flowMatchEuler(FlowMatchEulerScheduler.Config)
    case uniPC(UniPCMultistepScheduler.Config)

    public static let supportedClassNames = ["FlowMatchEulerDiscreteScheduler", "UniPCMultistepScheduler"]

    /// diffusers' class name for this scheduler.
    public var className: String {
        switch self {
        case .flowMatchEuler: return "FlowMatchEulerDiscreteScheduler"
        case .uniPC: return "UniPCMultistepScheduler"
        }
    }

    /// Reads `scheduler_config.json` from a `scheduler/` folder (or the file) and decodes it as the scheduler its
    /// `_class_name` names.
    public static func load(_ url: URL) throws -> SchedulerConfig {
        let file = url.pathExtension == "json" ? url : url.appendingPathComponent("scheduler_config.json")
        let object = try ConfigFile.object(from: file)
        guard let name = object["_class_name"] as? String else {
            throw ConfigFile.Error(file: file.path, message: "missing key '_class_name' (the scheduler's class)")
        }
        switch name {
        case "FlowMatchEulerDiscreteScheduler":
            return .flowMatchEuler(try FlowMatchEulerScheduler.Config.load(file))
        case "UniPCMultistepScheduler":
            return .uniPC(try UniPCMultistepScheduler.Config.load(file))
        default:
            throw ConfigFile.Error(
                file: file.path,
                message:
                    "_class_name '\(name)' is not supported (supported: \(supportedClassNames.joined(separator: ", ")))"
            )
        }
    }

    /// The scheduler set for `steps` steps. `shiftOverride` replaces the file's shift (`shift` for Euler, with
    /// dynamic shifting off; `flow_shift` for UniPC), as DanceGRPO's `--shift`; `imageSequenceLength` is the token
    /// count FLUX's dynamic shifting uses (ignored by UniPC).
    public func scheduler(steps: Int, imageSequenceLength: Int = 0, shiftOverride: Float? = nil) -> FolderScheduler {
        switch self {
        case .flowMatchEuler(let config):
            return FolderScheduler(
                .flowMatchEuler(
                    FlowMatchEulerScheduler(
                        config: config, steps: steps, imageSequenceLength: imageSequenceLength,
                        shiftOverride: shiftOverride)))
        case .uniPC(let config):
            return FolderScheduler(
                .uniPC(
                    UniPCMultistepScheduler(
                        config: config, steps: steps, shiftOverride: shiftOverride.map(Double.init)),
                    UniPCMultistepScheduler.State()))
        }
    }
}

/// A folder's scheduler set for one sampling run, with whatever history it keeps between steps: the one loop a
/// pipeline writes for either scheduler. A value: copying it saves the run's position.
///
/// Shapes: sample, model output [B, ...].
public struct FolderScheduler {
    enum Kind {
        case flowMatchEuler(FlowMatchEulerScheduler)
        case uniPC(UniPCMultistepScheduler, UniPCMultistepScheduler.State)
    }

    var kind: Kind

    init(_ kind: Kind) { self.kind = kind }

    /// T + 1 noise levels ending at 0.
    public var sigmas: [Float] {
        switch kind {
        case .flowMatchEuler(let s): return s.sigmas
        case .uniPC(let s, _): return s.sigmas
        }
    }

    /// T network timesteps (σ·1000 for Euler; whole numbers for UniPC, as diffusers' int64 timesteps).
    public var timesteps: [Float] {
        switch kind {
        case .flowMatchEuler(let s): return s.timesteps
        case .uniPC(let s, _): return s.timesteps.map(Float.init)
        }
    }

    public var steps: Int { sigmas.count - 1 }

    /// x_{i+1} from x_i and the network's output at step i (a flow-matching velocity for Euler; for UniPC whatever
    /// its `prediction_type` says, velocity for Wan). Steps must be taken in order.
    public mutating func step(_ i: Int, modelOutput: Tensor, sample: Tensor) -> Tensor {
        switch kind {
        case .flowMatchEuler(let s):
            return s.step(i, velocity: modelOutput, sample: sample)
        case .uniPC(let s, var state):
            let next = s.step(i, modelOutput: modelOutput, sample: sample, state: &state)
            kind = .uniPC(s, state)
            return next
        }
    }
}
