import Checkpoints
import Engine
import Foundation

/// diffusers' `DDIMScheduler` tables as DDPO and DanceGRPO's Stable Diffusion trainer use them, read from a
/// checkpoint's `scheduler/scheduler_config.json` (`DDIMScheduler.from_config` on SD v1.4's own file, which names
/// `PNDMScheduler`; keys that only the PNDM scheduler reads, such as `skip_prk_steps`, are ignored).
///
/// - betas: `linear` = linspace(β_start, β_end, T); `scaled_linear` = linspace(√β_start, √β_end, T)²;
///   `squaredcos_cap_v2` = the cosine schedule (`betas_for_alpha_bar`, capped at 0.999); or `trained_betas`.
///   Float32 as diffusers stores them; ᾱ_k = Π_{m≤k}(1 − β_m) accumulated in float64 (torch's CPU cumprod) and
///   stored in float32.
/// - inference timesteps (`set_timesteps`): `leading` (SD v1.4) = k·(T/n) + steps_offset for k = n−1…0 (50 steps:
///   981, 961, …, 1); `trailing` = round(T − k·T/n) − 1; `linspace` = round(linspace(0, T−1, n)) reversed.
/// - `final_alpha_cumprod` = 1 with `set_alpha_to_one`, else ᾱ_0. See
///   ``ddimStep(_:modelOutput:timesteps:sample:eta:previousSample:noise:)`` for the step itself.
/// What a denoising network predicts, by diffusers' `prediction_type` names: the noise ε (SD 1), the velocity
/// v = √ᾱ·ε − √(1−ᾱ)·x₀ (SD 2), or the clean sample x₀.
public enum PredictionType: String, Codable, CaseIterable, Sendable {
    case epsilon
    case vPrediction = "v_prediction"
    case sample
}

public struct DDIMScheduler: Sendable, Equatable {
    /// `scheduler_config.json`. Absent fields take the defaults of diffusers' `DDIMScheduler.__init__` (note that
    /// these are *not* SD's values: `clip_sample` true, `set_alpha_to_one` true, `steps_offset` 0, linear betas).
    public struct Config: Codable, Sendable, Equatable {
        public static let supportedBetaSchedules: Set<String> = ["linear", "scaled_linear", "squaredcos_cap_v2"]
        public static let supportedSpacings: Set<String> = ["leading", "trailing", "linspace"]

        public var numTrainTimesteps = 1000
        public var betaStart = 0.0001
        public var betaEnd = 0.02
        public var betaSchedule = "linear"
        public var trainedBetas: [Float]?
        public var clipSample = true
        public var clipSampleRange: Float = 1
        public var setAlphaToOne = true
        public var stepsOffset = 0
        public var predictionType = PredictionType.epsilon
        public var timestepSpacing = "leading"
        /// Unsupported when true (dynamic thresholding of x̂0, Imagen's trick; off in every SD config).
        public var thresholding = false
        /// Unsupported when true (zero-terminal-SNR rescaling; off in SD v1).
        public var rescaleBetasZeroSnr = false
        /// Values of the file that name no choice this implementation has (reported by `problems()` with the rest).
        private var unknownValues: [String] = []

        enum CodingKeys: String, CodingKey {
            case numTrainTimesteps = "num_train_timesteps", betaStart = "beta_start", betaEnd = "beta_end"
            case betaSchedule = "beta_schedule", trainedBetas = "trained_betas", clipSample = "clip_sample"
            case clipSampleRange = "clip_sample_range", setAlphaToOne = "set_alpha_to_one", stepsOffset = "steps_offset"
            case predictionType = "prediction_type", timestepSpacing = "timestep_spacing", thresholding
            case rescaleBetasZeroSnr = "rescale_betas_zero_snr"
        }

        public init() {}

        /// Stable Diffusion v1.4's scheduler (its `scheduler_config.json` through `DDIMScheduler.from_config`).
        public static var stableDiffusionV1: Config {
            var c = Config()
            c.betaStart = 0.00085
            c.betaEnd = 0.012
            c.betaSchedule = "scaled_linear"
            c.clipSample = false
            c.setAlphaToOne = false
            c.stepsOffset = 1
            return c
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Config()
            numTrainTimesteps = try c.decodeIfPresent(Int.self, forKey: .numTrainTimesteps) ?? d.numTrainTimesteps
            betaStart = try c.decodeIfPresent(Double.self, forKey: .betaStart) ?? d.betaStart
            betaEnd = try c.decodeIfPresent(Double.self, forKey: .betaEnd) ?? d.betaEnd
            betaSchedule = try c.decodeIfPresent(String.self, forKey: .betaSchedule) ?? d.betaSchedule
            trainedBetas = try c.decodeIfPresent([Float].self, forKey: .trainedBetas)
            clipSample = try c.decodeIfPresent(Bool.self, forKey: .clipSample) ?? d.clipSample
            clipSampleRange = try c.decodeIfPresent(Float.self, forKey: .clipSampleRange) ?? d.clipSampleRange
            setAlphaToOne = try c.decodeIfPresent(Bool.self, forKey: .setAlphaToOne) ?? d.setAlphaToOne
            stepsOffset = try c.decodeIfPresent(Int.self, forKey: .stepsOffset) ?? d.stepsOffset
            let prediction = try c.decodeIfPresent(String.self, forKey: .predictionType) ?? d.predictionType.rawValue
            predictionType = PredictionType(rawValue: prediction) ?? d.predictionType
            if PredictionType(rawValue: prediction) == nil {
                unknownValues.append(
                    """
                    prediction_type '\(prediction)' is not supported (supported: \
                    \(PredictionType.allCases.map(\.rawValue).sorted().joined(separator: ", ")))
                    """
                )
            }
            timestepSpacing = try c.decodeIfPresent(String.self, forKey: .timestepSpacing) ?? d.timestepSpacing
            thresholding = try c.decodeIfPresent(Bool.self, forKey: .thresholding) ?? d.thresholding
            rescaleBetasZeroSnr =
                try c.decodeIfPresent(Bool.self, forKey: .rescaleBetasZeroSnr) ?? d.rescaleBetasZeroSnr
        }

        /// What this implementation cannot do with the config; empty when it is fine.
        public func problems() -> [String] {
            var found: [String] = []
            if numTrainTimesteps < 1 { found.append("num_train_timesteps \(numTrainTimesteps) must be positive") }
            if let trainedBetas {
                if trainedBetas.count != numTrainTimesteps {
                    found.append(
                        """
                        trained_betas has \(trainedBetas.count) values, expected num_train_timesteps = \
                        \(numTrainTimesteps)
                        """
                    )
                }
            } else if !Self.supportedBetaSchedules.contains(betaSchedule) {
                found.append(
                    """
                    beta_schedule '\(betaSchedule)' is not supported (supported: \
                    \(Self.supportedBetaSchedules.sorted().joined(separator: ", ")))
                    """
                )
            }
            found += unknownValues
            if !Self.supportedSpacings.contains(timestepSpacing) {
                found.append(
                    """
                    timestep_spacing '\(timestepSpacing)' is not supported (supported: \
                    \(Self.supportedSpacings.sorted().joined(separator: ", ")))
                    """
                )
            }
            if thresholding { found.append("thresholding true is not supported") }
            if rescaleBetasZeroSnr { found.append("rescale_betas_zero_snr true is not supported") }
            return found
        }

        /// Reads `scheduler_config.json` from a `scheduler/` folder (or the file) and checks it.
        public static func load(_ url: URL) throws -> Config {
            let file = url.pathExtension == "json" ? url : url.appendingPathComponent("scheduler_config.json")
            let config = try ConfigFile.decode(Config.self, from: file)
            let problems = config.problems()
            guard problems.isEmpty else {
                throw ConfigFile.Error(file: file.path, message: problems.joined(separator: "; "))
            }
            return config
        }
    }

    public let config: Config
    /// ᾱ_k for k = 0..<T (float32 values).
    public let alphasCumprod: [Float]
    /// The ᾱ of the step after the last one: 1 with `set_alpha_to_one`, else ᾱ_0. DDPO's step never reaches it (see
    /// ``previousTimestep(_:)``).
    public let finalAlphaCumprod: Float
    /// Inference steps n.
    public let steps: Int
    /// The n network timesteps, first (noisiest) to last.
    public let timesteps: [Int]

    public init(config: Config, steps: Int) {
        let problems = config.problems()
        precondition(problems.isEmpty, "DDIMScheduler: " + problems.joined(separator: "; "))
        precondition(
            steps >= 1 && steps <= config.numTrainTimesteps,
            "DDIMScheduler: steps \(steps) must be in 1...\(config.numTrainTimesteps)")
        self.config = config
        self.steps = steps
        let betas = DDIMScheduler.betas(config)
        var product = 1.0
        alphasCumprod = betas.map { beta in
            product *= Double(1 - beta)
            return Float(product)
        }
        finalAlphaCumprod = config.setAlphaToOne ? 1 : alphasCumprod[0]
        timesteps = DDIMScheduler.timesteps(config, steps: steps)
    }

    /// T / n, the gap DDIM assumes between consecutive timesteps.
    public var stepRatio: Int { config.numTrainTimesteps / steps }

    /// DDPO's previous timestep: `clamp(t − T/n, 0, T−1)`. With the clamp the last step of the leading schedule
    /// (t = steps_offset) moves to ᾱ_0, where diffusers' own `DDIMScheduler.step` would use `final_alpha_cumprod`;
    /// the two agree for SD (set_alpha_to_one false), and the clamp is what DanceGRPO trains with.
    public func previousTimestep(_ t: Int) -> Int {
        Swift.min(Swift.max(t - stepRatio, 0), config.numTrainTimesteps - 1)
    }

    /// ᾱ_t for a training timestep t in 0..<T.
    public func alphaCumprod(_ t: Int) -> Float {
        precondition(
            t >= 0 && t < alphasCumprod.count, "DDIMScheduler: timestep \(t) outside 0..<\(alphasCumprod.count)")
        return alphasCumprod[t]
    }

    // MARK: - Tables

    static func betas(_ config: Config) -> [Float] {
        if let trained = config.trainedBetas { return trained }
        let n = config.numTrainTimesteps
        switch config.betaSchedule {
        case "linear":
            return linspace(Float(config.betaStart), Float(config.betaEnd), n)
        case "scaled_linear":
            // The square roots in float64 (Python scalars), the table in float32.
            return linspace(Float(config.betaStart.squareRoot()), Float(config.betaEnd.squareRoot()), n).map { $0 * $0 }
        // squaredcos_cap_v2: β_i = min(1 − ᾱ(t_{i+1})/ᾱ(t_i), 0.999), ᾱ(t) = cos²((t + 0.008)/1.008 · π/2)
        default:
            func alphaBar(_ t: Double) -> Double {
                Foundation.pow(Foundation.cos((t + 0.008) / 1.008 * Double.pi / 2), 2)
            }
            return (0..<n).map { i in
                Float(Swift.min(1 - alphaBar(Double(i + 1) / Double(n)) / alphaBar(Double(i) / Double(n)), 0.999))
            }
        }
    }

    /// torch.linspace in float32 (CPU kernel): the first half counts up from `start`, the second half down from `end`.
    static func linspace(_ start: Float, _ end: Float, _ count: Int) -> [Float] {
        guard count > 1 else { return [start] }
        let step = (end - start) / Float(count - 1)
        let half = count / 2
        return (0..<count).map { i in i < half ? start + step * Float(i) : end - step * Float(count - i - 1) }
    }

    static func timesteps(_ config: Config, steps: Int) -> [Int] {
        let t = config.numTrainTimesteps
        switch config.timestepSpacing {
        case "leading":
            let ratio = t / steps
            return (0..<steps).reversed().map { $0 * ratio + config.stepsOffset }
        case "trailing":
            let ratio = Double(t) / Double(steps)
            // np.round(np.arange(T, 0, −T/n)) − 1, round half to even as numpy does.
            return (0..<steps).map { k in Int((Double(t) - Double(k) * ratio).rounded(.toNearestOrEven)) - 1 }
        default:  // linspace
            let step = Double(t - 1) / Double(Swift.max(steps - 1, 1))
            return (0..<steps).reversed().map { k in Int((Double(k) * step).rounded(.toNearestOrEven)) }
        }
    }
}
