import Checkpoints
import Engine
import Foundation

/// diffusers' `FlowMatchEulerDiscreteScheduler` as the FLUX/SD3/Qwen-Image pipelines drive it, read from a
/// checkpoint's `scheduler/scheduler_config.json`: sigmas `linspace(1, 1/T, T)` (float64, then float32), bent by
/// the static shift `s·σ/(1 + (s−1)·σ)` or, with `use_dynamic_shifting`, by `e^μ/(e^μ + (1/σ − 1))`
/// where μ grows linearly with the image's token count (`time_shift_type` "exponential"; "linear" bends by
/// `μ/(μ + (1/σ − 1))`), then, with `shift_terminal` set (Qwen-Image's 0.02), stretched so that the last σ is
/// that value (`stretch_shift_to_terminal`); a final σ = 0; network timesteps σ·1000 (not quantised — that is
/// DanceGRPO's rollout rule, see ``SigmaSchedule``). Sampling uses it; GRPO rollouts use ``SigmaSchedule``.
public struct FlowMatchEulerScheduler: Sendable, Equatable {
    public struct Config: Codable, Sendable, Equatable {
        public var numTrainTimesteps = 1000
        public var shift: Float = 1
        public var useDynamicShifting = false
        public var baseShift: Float = 0.5
        public var maxShift: Float = 1.15
        public var baseImageSeqLen = 256
        public var maxImageSeqLen = 4096
        /// The last sampling σ after stretching, `stretch_shift_to_terminal`; nil (or 0) leaves the schedule as is.
        public var shiftTerminal: Float?
        /// How dynamic shifting bends σ: "exponential" (FLUX, Qwen-Image) or "linear".
        public var timeShiftType = "exponential"

        enum CodingKeys: String, CodingKey {
            case numTrainTimesteps = "num_train_timesteps", shift, useDynamicShifting = "use_dynamic_shifting"
            case baseShift = "base_shift", maxShift = "max_shift", baseImageSeqLen = "base_image_seq_len"
            case maxImageSeqLen = "max_image_seq_len", shiftTerminal = "shift_terminal"
            case timeShiftType = "time_shift_type"
        }

        public init() {}

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Config()
            numTrainTimesteps = try c.decodeIfPresent(Int.self, forKey: .numTrainTimesteps) ?? d.numTrainTimesteps
            shift = try c.decodeIfPresent(Float.self, forKey: .shift) ?? d.shift
            useDynamicShifting = try c.decodeIfPresent(Bool.self, forKey: .useDynamicShifting) ?? d.useDynamicShifting
            baseShift = try c.decodeIfPresent(Float.self, forKey: .baseShift) ?? d.baseShift
            maxShift = try c.decodeIfPresent(Float.self, forKey: .maxShift) ?? d.maxShift
            baseImageSeqLen = try c.decodeIfPresent(Int.self, forKey: .baseImageSeqLen) ?? d.baseImageSeqLen
            maxImageSeqLen = try c.decodeIfPresent(Int.self, forKey: .maxImageSeqLen) ?? d.maxImageSeqLen
            shiftTerminal = try c.decodeIfPresent(Float.self, forKey: .shiftTerminal)
            timeShiftType = try c.decodeIfPresent(String.self, forKey: .timeShiftType) ?? d.timeShiftType
            guard ["exponential", "linear"].contains(timeShiftType) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .timeShiftType, in: c,
                    debugDescription: "time_shift_type '\(timeShiftType)' is not supported (exponential, linear)")
            }
        }

        /// Reads `scheduler_config.json` from a `scheduler/` folder (or the file).
        public static func load(_ url: URL) throws -> Config {
            let file = url.pathExtension == "json" ? url : url.appendingPathComponent("scheduler_config.json")
            return try ConfigFile.decode(Config.self, from: file)
        }
    }

    /// T + 1 noise levels ending at 0.
    public let sigmas: [Float]
    /// T network timesteps σ·1000.
    public let timesteps: [Float]

    /// - imageSequenceLength: packed image tokens (for dynamic shifting, as the FLUX pipeline's `mu`).
    /// - shiftOverride: a static shift to use instead of the config's rule (DanceGRPO's `--shift`).
    public init(config: Config, steps: Int, imageSequenceLength: Int, shiftOverride: Float? = nil) {
        precondition(steps >= 1, "FlowMatchEulerScheduler: steps must be at least 1")
        // numpy's linspace(1, 1/T, T) in float64 (i·step + start, the last element set to the end), then float32.
        let step = steps == 1 ? 0 : (1.0 / Double(steps) - 1.0) / Double(steps - 1)
        let grid: [Float] = (0..<steps).map { i in
            i == steps - 1 ? Float(1.0 / Double(steps)) : Float(Double(i) * step + 1.0)
        }
        var shifted: [Float]
        if let shift = shiftOverride ?? (config.useDynamicShifting ? nil : config.shift) {
            shifted = grid.map { shift * $0 / (1 + (shift - 1) * $0) }
        } else {
            let slope =
                (Double(config.maxShift) - Double(config.baseShift))
                / Double(config.maxImageSeqLen - config.baseImageSeqLen)
            let mu =
                Double(imageSequenceLength) * slope + Double(config.baseShift) - slope * Double(config.baseImageSeqLen)
            // NumPy evaluates this on the float32 grid in float32.
            let e = Float(config.timeShiftType == "linear" ? mu : Foundation.exp(mu))
            shifted = grid.map { e / (e + (1 / $0 - 1)) }
        }
        if let terminal = config.shiftTerminal, terminal != 0, let last = shifted.last {
            // `stretch_shift_to_terminal`, in float32 as NumPy runs it on the float32 sigmas.
            let scale = (1 - last) / (1 - terminal)
            shifted = shifted.map { 1 - (1 - $0) / scale }
        }
        sigmas = shifted + [0]
        timesteps = shifted.map { $0 * Float(config.numTrainTimesteps) }
    }

    /// x_{i+1} = x_i + (σ_{i+1} − σ_i)·v, in float32.
    public func step(_ i: Int, velocity: Tensor, sample: Tensor) -> Tensor {
        sample.asType(.float32) + (sigmas[i + 1] - sigmas[i]) * velocity.asType(.float32)
    }
}
