import ArgumentParser
import Training

/// The commands' `validate()`: range checks on their numeric flags before any work, reported as ArgumentParser's
/// validation errors (with the usage line), each naming the flag.
enum FlagRanges {
    static func check(_ body: () throws -> Void) throws {
        do { try body() } catch let error as SettingRangeError { throw ValidationError(error.description) }
    }

    /// An image side a family can sample without rounding: FLUX, Wan and HunyuanVideo 16 px per latent token (8× VAE,
    /// 2×2 patches), SD 8.
    static func imageSide(_ value: Int?, _ flag: String, model: String) throws {
        guard let value else { return }
        let factor =
            ["flux", "wan", "qwen-image", "qwen-image-edit", "hunyuan-video", "skyreels-i2v"]
                .contains(model) ? 16 : 8
        guard value < factor || value > 65536 || value % factor != 0 else { return }
        throw SettingRangeError(
            key: flag, expected: "a multiple of \(factor) from \(factor) to 65536 px for --model \(model)",
            found: "\(value)")
    }
}

extension SampleCommand {
    func validate() throws {
        try FlagRanges.check {
            if let steps { try SettingRange.integer(steps, "--steps", atLeast: 1) }
            try FlagRanges.imageSide(height, "--height", model: model)
            try FlagRanges.imageSide(width, "--width", model: model)
            if let numFrames, numFrames < 1 || numFrames > 4097 || (numFrames - 1) % 4 != 0 {
                throw SettingRangeError(
                    key: "--num-frames",
                    expected: "1 + 4k frames (1, 5, …, 81; Wan's and HunyuanVideo's VAEs compress time 4×)",
                    found: "\(numFrames)")
            }
            if let guidance { try SettingRange.number(guidance, "--guidance", atLeast: 0) }
            if let trueCfgScale {
                try SettingRange.number(trueCfgScale, "--true-cfg-scale", atLeast: 0, " (≤ 1: off)")
            }
            if let eta { try SettingRange.number(eta, "--eta", atLeast: 0) }
            if let shift { try SettingRange.number(shift, "--shift", above: 0) }
            try SettingRange.integer(maxSequenceLength, "--max-sequence-length", atLeast: 1, atMost: 4096)
        }
    }
}

extension EvaluateCommand {
    func validate() throws {
        try FlagRanges.check {
            try SettingRange.integer(prompts, "--prompts", atLeast: 1)
            if let steps { try SettingRange.integer(steps, "--steps", atLeast: 1) }
            try SettingRange.number(shift, "--shift", above: 0)
            try SettingRange.number(guidanceScale, "--guidance-scale", atLeast: 0, " (1: off)")
        }
    }
}

extension PreprocessCommand {
    func validate() throws {
        try FlagRanges.check {
            if let maxSequenceLength {
                try SettingRange.integer(maxSequenceLength, "--max-sequence-length", atLeast: 1, atMost: 4096)
            }
            try SettingRange.integer(limit, "--limit", atLeast: 0, " (0: all)")
            try SettingRange.integer(batchSize, "--batch-size", atLeast: 1)
        }
    }
}

extension ScoreCommand {
    func validate() throws {
        try FlagRanges.check { try SettingRange.integer(batchSize, "--batch-size", atLeast: 1) }
    }
}

extension PretrainCommand {
    func validate() throws {
        try FlagRanges.check {
            try SettingRange.integer(steps, "--steps", atLeast: 1)
            try SettingRange.integer(batchSize, "--batch-size", atLeast: 1)
            try SettingRange.number(
                learningRate, "--learning-rate", above: 0, atMost: Double(Float.greatestFiniteMagnitude))
            try SettingRange.integer(imageSize, "--image-size", atLeast: 4, atMost: 4096)
            guard imageSize % 4 == 0 else {
                throw SettingRangeError(key: "--image-size", expected: "a multiple of 4", found: "\(imageSize)")
            }
            try SettingRange.integer(heads, "--heads", atLeast: 1)
            try SettingRange.integer(layers, "--layers", atLeast: 1)
            try SettingRange.integer(vaeSteps, "--vae-steps", atLeast: 0)
            try SettingRange.integer(evaluationSteps, "--evaluation-steps", atLeast: 1)
            try SettingRange.number(conditioningDropout, "--conditioning-dropout", atLeast: 0, atMost: 1)
            for (value, flag) in [
                (wrongColorRate, "--wrong-color-rate"), (wrongShapeRate, "--wrong-shape-rate"),
                (unmentionedObjectRate, "--unmentioned-object-rate")
            ] {
                try SettingRange.number(value, flag, atLeast: 0, atMost: 1)
            }
            try SettingRange.integer(unmentionedObjectSlots, "--unmentioned-object-slots", atLeast: 0)
        }
    }
}
