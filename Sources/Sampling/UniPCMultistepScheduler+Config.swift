import Checkpoints
import Foundation

extension UniPCMultistepScheduler {
    /// `scheduler/scheduler_config.json`: every field diffusers' `UniPCMultistepScheduler.__init__` reads, with its
    /// defaults (note that those are not Wan's: `prediction_type` epsilon, `use_flow_sigmas` false, `flow_shift` 1).
    /// Fields that only the VP (β) schedule, Karras/exponential/β sigmas or thresholding read are decoded and, with
    /// flow sigmas, unused. ``problems()`` lists the values this port refuses, each naming its key.
    /// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/schedulers/scheduling_unipc_multistep.py#L195
    public struct Config: Codable, Sendable, Equatable {
        public static let supportedPredictionTypes: Set<String> = [
            "flow_prediction", "epsilon", "v_prediction", "sample"
        ]
        /// diffusers' names for the B(h) variant; the last three are legacy names it maps to bh2.
        public static let knownSolverTypes: Set<String> = ["bh1", "bh2", "midpoint", "heun", "logrho"]
        public static let knownBetaSchedules: Set<String> = ["linear", "scaled_linear", "squaredcos_cap_v2"]
        public static let knownSpacings: Set<String> = ["linspace", "leading", "trailing"]

        public var numTrainTimesteps = 1000
        public var betaStart = 0.0001
        public var betaEnd = 0.02
        public var betaSchedule = "linear"
        public var trainedBetas: [Double]?
        public var solverOrder = 2
        public var predictionType = "epsilon"
        public var thresholding = false
        public var dynamicThresholdingRatio = 0.995
        public var sampleMaxValue = 1.0
        public var predictX0 = true
        public var solverType = "bh2"
        public var lowerOrderFinal = true
        public var disableCorrector: [Int] = []
        /// Whether the file names a `solver_p` (another scheduler as predictor); unsupported.
        public var hasSolverP = false
        public var useKarrasSigmas = false
        public var useExponentialSigmas = false
        public var useBetaSigmas = false
        public var useFlowSigmas = false
        /// Double, as Python's float: the shifted sigmas are computed in float64 and rounded once.
        public var flowShift = 1.0
        public var timestepSpacing = "linspace"
        public var stepsOffset = 0
        public var finalSigmasType = "zero"
        public var rescaleBetasZeroSnr = false
        public var useDynamicShifting = false
        public var timeShiftType = "exponential"
        public var sigmaMin: Double?
        public var sigmaMax: Double?
        public var shiftTerminal: Double?

        enum CodingKeys: String, CodingKey {
            case numTrainTimesteps = "num_train_timesteps", betaStart = "beta_start", betaEnd = "beta_end"
            case betaSchedule = "beta_schedule", trainedBetas = "trained_betas", solverOrder = "solver_order"
            case predictionType = "prediction_type", thresholding
            case dynamicThresholdingRatio = "dynamic_thresholding_ratio", sampleMaxValue = "sample_max_value"
            case predictX0 = "predict_x0", solverType = "solver_type", lowerOrderFinal = "lower_order_final"
            case disableCorrector = "disable_corrector", hasSolverP = "solver_p"
            case useKarrasSigmas = "use_karras_sigmas", useExponentialSigmas = "use_exponential_sigmas"
            case useBetaSigmas = "use_beta_sigmas", useFlowSigmas = "use_flow_sigmas", flowShift = "flow_shift"
            case timestepSpacing = "timestep_spacing", stepsOffset = "steps_offset"
            case finalSigmasType = "final_sigmas_type", rescaleBetasZeroSnr = "rescale_betas_zero_snr"
            case useDynamicShifting = "use_dynamic_shifting", timeShiftType = "time_shift_type"
            case sigmaMin = "sigma_min", sigmaMax = "sigma_max", shiftTerminal = "shift_terminal"
        }

        public init() {}

        /// Wan2.1-T2V's `scheduler_config.json` (flow shift 3.0; the 720p models ship 5.0).
        /// https://huggingface.co/Wan-AI/Wan2.1-T2V-1.3B-Diffusers/blob/main/scheduler/scheduler_config.json
        public static var wan21: Config {
            var c = Config()
            c.predictionType = "flow_prediction"
            c.useFlowSigmas = true
            c.flowShift = 3
            return c
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Config()
            func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
                try c.decodeIfPresent(T.self, forKey: key) ?? fallback
            }
            numTrainTimesteps = try value(.numTrainTimesteps, d.numTrainTimesteps)
            betaStart = try value(.betaStart, d.betaStart)
            betaEnd = try value(.betaEnd, d.betaEnd)
            betaSchedule = try value(.betaSchedule, d.betaSchedule)
            trainedBetas = try c.decodeIfPresent([Double].self, forKey: .trainedBetas)
            solverOrder = try value(.solverOrder, d.solverOrder)
            predictionType = try value(.predictionType, d.predictionType)
            thresholding = try value(.thresholding, d.thresholding)
            dynamicThresholdingRatio = try value(.dynamicThresholdingRatio, d.dynamicThresholdingRatio)
            sampleMaxValue = try value(.sampleMaxValue, d.sampleMaxValue)
            predictX0 = try value(.predictX0, d.predictX0)
            solverType = try value(.solverType, d.solverType)
            lowerOrderFinal = try value(.lowerOrderFinal, d.lowerOrderFinal)
            disableCorrector = try value(.disableCorrector, d.disableCorrector)
            // Any non-null value: the file cannot hold a scheduler object, so this is only ever null in practice.
            hasSolverP = try c.contains(.hasSolverP) && !c.decodeNil(forKey: .hasSolverP)
            useKarrasSigmas = try value(.useKarrasSigmas, d.useKarrasSigmas)
            useExponentialSigmas = try value(.useExponentialSigmas, d.useExponentialSigmas)
            useBetaSigmas = try value(.useBetaSigmas, d.useBetaSigmas)
            useFlowSigmas = try value(.useFlowSigmas, d.useFlowSigmas)
            flowShift = try value(.flowShift, d.flowShift)
            timestepSpacing = try value(.timestepSpacing, d.timestepSpacing)
            stepsOffset = try value(.stepsOffset, d.stepsOffset)
            finalSigmasType = try value(.finalSigmasType, d.finalSigmasType)
            rescaleBetasZeroSnr = try value(.rescaleBetasZeroSnr, d.rescaleBetasZeroSnr)
            useDynamicShifting = try value(.useDynamicShifting, d.useDynamicShifting)
            timeShiftType = try value(.timeShiftType, d.timeShiftType)
            sigmaMin = try c.decodeIfPresent(Double.self, forKey: .sigmaMin)
            sigmaMax = try c.decodeIfPresent(Double.self, forKey: .sigmaMax)
            shiftTerminal = try c.decodeIfPresent(Double.self, forKey: .shiftTerminal)
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(numTrainTimesteps, forKey: .numTrainTimesteps)
            try c.encode(betaStart, forKey: .betaStart)
            try c.encode(betaEnd, forKey: .betaEnd)
            try c.encode(betaSchedule, forKey: .betaSchedule)
            try c.encodeIfPresent(trainedBetas, forKey: .trainedBetas)
            try c.encode(solverOrder, forKey: .solverOrder)
            try c.encode(predictionType, forKey: .predictionType)
            try c.encode(thresholding, forKey: .thresholding)
            try c.encode(dynamicThresholdingRatio, forKey: .dynamicThresholdingRatio)
            try c.encode(sampleMaxValue, forKey: .sampleMaxValue)
            try c.encode(predictX0, forKey: .predictX0)
            try c.encode(solverType, forKey: .solverType)
            try c.encode(lowerOrderFinal, forKey: .lowerOrderFinal)
            try c.encode(disableCorrector, forKey: .disableCorrector)
            try c.encodeNil(forKey: .hasSolverP)
            try c.encode(useKarrasSigmas, forKey: .useKarrasSigmas)
            try c.encode(useExponentialSigmas, forKey: .useExponentialSigmas)
            try c.encode(useBetaSigmas, forKey: .useBetaSigmas)
            try c.encode(useFlowSigmas, forKey: .useFlowSigmas)
            try c.encode(flowShift, forKey: .flowShift)
            try c.encode(timestepSpacing, forKey: .timestepSpacing)
            try c.encode(stepsOffset, forKey: .stepsOffset)
            try c.encode(finalSigmasType, forKey: .finalSigmasType)
            try c.encode(rescaleBetasZeroSnr, forKey: .rescaleBetasZeroSnr)
            try c.encode(useDynamicShifting, forKey: .useDynamicShifting)
            try c.encode(timeShiftType, forKey: .timeShiftType)
            try c.encodeIfPresent(sigmaMin, forKey: .sigmaMin)
            try c.encodeIfPresent(sigmaMax, forKey: .sigmaMax)
            try c.encodeIfPresent(shiftTerminal, forKey: .shiftTerminal)
        }

        /// What this port cannot do with the config (empty when it is fine); each message starts with the key.
        /// Values that diffusers itself rejects are refused with its reason; values diffusers accepts but that
        /// produce NaN with flow sigmas and a final σ = 0 are refused with the arithmetic that fails.
        public func problems() -> [String] {
            var found: [String] = []
            func list(_ set: Set<String>) -> String { set.sorted().joined(separator: ", ") }
            if numTrainTimesteps < 1 { found.append("num_train_timesteps \(numTrainTimesteps) must be positive") }
            if solverOrder < 1 { found.append("solver_order \(solverOrder) must be at least 1") }
            if trainedBetas == nil && !Self.knownBetaSchedules.contains(betaSchedule) {
                found.append("beta_schedule '\(betaSchedule)' is unknown (known: \(list(Self.knownBetaSchedules)))")
            }
            if !useFlowSigmas {
                found.append(
                    "use_flow_sigmas false is not supported (only the flow-matching schedule Wan ships is implemented)")
            }
            for (key, on) in [
                ("use_karras_sigmas", useKarrasSigmas), ("use_exponential_sigmas", useExponentialSigmas),
                ("use_beta_sigmas", useBetaSigmas)
            ] where on {
                found.append("\(key) true is not supported (it replaces the flow sigmas in diffusers)")
            }
            if useDynamicShifting {
                found.append("use_dynamic_shifting true is not supported (it needs the pipeline's mu)")
            }
            if !Self.supportedPredictionTypes.contains(predictionType) {
                found.append(
                    """
                    prediction_type '\(predictionType)' is not supported (supported: \
                    \(list(Self.supportedPredictionTypes)))
                    """)
            }
            if !predictX0 {
                found.append(
                    """
                    predict_x0 false is not supported (its noise-space update scales x by α_t/α_s0 with \
                    α_s0 = 1 − σ_0 = 1e-6, and diffusers' step to σ = 0 gives NaN)
                    """)
            }
            // With flow sigmas a final σ = 0 makes h = λ_t − λ_s0 infinite in the last step: bh2 at
            // order 1 handles that (B(h) = e^{−∞} − 1 = −1), bh1 (B(h) = −h) and orders ≥ 2
            // (r = ·/∞ = 0) give NaN in diffusers. With `sigma_min` the last step has h = 0 and returns
            // its input, which bh1 and order 2 survive.
            let finalZero = finalSigmasType == "zero"
            if solverType == "bh1" && finalZero {
                found.append(
                    """
                    solver_type 'bh1' is not supported with final_sigmas_type 'zero' (diffusers' step to σ = 0 \
                    multiplies B(h) = −∞ by 0: NaN)
                    """)
            } else if !Self.knownSolverTypes.contains(solverType) {
                found.append("solver_type '\(solverType)' is unknown (known: \(list(Self.knownSolverTypes)))")
            }
            if !lowerOrderFinal && solverOrder > 1 && (finalZero || solverOrder > 2) {
                found.append(
                    """
                    lower_order_final false is not supported with solver_order \(solverOrder) and final_sigmas_type \
                    '\(finalSigmasType)' (diffusers' last step then divides by r = 0 or h = 0: NaN)
                    """)
            }
            if !["zero", "sigma_min"].contains(finalSigmasType) {
                found.append("final_sigmas_type '\(finalSigmasType)' is unknown (known: sigma_min, zero)")
            }
            if !Self.knownSpacings.contains(timestepSpacing) {
                found.append("timestep_spacing '\(timestepSpacing)' is unknown (known: \(list(Self.knownSpacings)))")
            }
            if thresholding { found.append("thresholding true is not supported") }
            if hasSolverP { found.append("solver_p is not supported (must be null)") }
            if let shiftTerminal, shiftTerminal >= 1 {
                found.append("shift_terminal \(shiftTerminal) must be below 1")
            }
            return found
        }

        /// Reads `scheduler_config.json` from a `scheduler/` folder (or the file) and checks it.
        public static func load(_ url: URL) throws -> Config {
            let file = url.pathExtension == "json" ? url : url.appendingPathComponent("scheduler_config.json")
            let config = try ConfigFile.decode(Config.self, from: file)
            try config.check(file: file)
            return config
        }

        /// Throws ``problems()`` as one error naming `file`.
        public func check(file: URL) throws {
            let problems = problems()
            guard problems.isEmpty else {
                throw ConfigFile.Error(file: file.path, message: problems.joined(separator: "; "))
            }
        }
    }
}
