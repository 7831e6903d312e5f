import Foundation
import TestSupport
import Training
import XCTest

/// Settings merge preset < run config < --config < flags through one mechanism, read DanceGRPO's argument names,
/// and refuse unknown keys naming the file.
final class RunSettingsTests: XCTestCase {
    func testLayersOverrideInOrderAndRecordOrigins() throws {
        let resolved = try RunSettings.resolve(
            preset: .flux, presetName: "flux",
            layers: [
                SettingsLayer(origin: "run/config.json", values: ["learningRate": 2e-5, "numGenerations": 6]),
                SettingsLayer(origin: "seed.yaml", values: ["learning_rate": 3e-5, "sampler": "cps", "height": 512]),
                SettingsLayer(origin: "command line", values: ["learning-rate": 4e-5])
            ])
        XCTAssertEqual(resolved.trainer.learningRate, 4e-5)
        XCTAssertEqual(resolved.trainer.numGenerations, 6)
        XCTAssertEqual(resolved.trainer.sampler, .cps)
        XCTAssertEqual(resolved.task.height, 512)
        XCTAssertEqual(resolved.trainer.samplingSteps, GRPOTrainer.Config.flux.samplingSteps)
        XCTAssertEqual(resolved.origins["learningRate"], "command line")
        XCTAssertEqual(resolved.origins["numGenerations"], "run/config.json")
        XCTAssertEqual(resolved.origins["samplingSteps"], "preset flux")
        XCTAssertTrue(try resolved.describe().contains("sampler"))
    }

    func testTheSeedsFluxScriptResolvesToTheFluxPreset() throws {
        let folder = try temporaryDirectory(self)
        let file = folder.appendingPathComponent("seed-flux.yaml")
        // finetune_flux_grpo.sh's arguments, as a YAML file.
        try """
        seed: 42
        pretrained_model_name_or_path: data/flux
        data_json_path: data/rl_embeddings/videos2caption.json
        gradient_checkpointing: true
        train_batch_size: 1
        gradient_accumulation_steps: 4
        max_train_steps: 300
        learning_rate: 1e-5
        mixed_precision: bf16
        checkpointing_steps: 40
        h: 720
        w: 720
        t: 1
        sampling_steps: 16
        eta: 0.3
        max_grad_norm: 1.0
        weight_decay: 0.0001
        use_hpsv2: true
        num_generations: 12
        shift: 3
        use_group: true
        timestep_fraction: 0.6
        init_same_noise: true
        clip_range: 1e-4
        adv_clip_max: 5.0
        """.write(to: file, atomically: true, encoding: .utf8)
        let layer = try SettingsLayer.file(file)
        XCTAssertEqual(Set(layer.ignored), ["mixed_precision", "t"])
        let resolved = try RunSettings.resolve(preset: GRPOTrainer.Config(), presetName: "base", layers: [layer])
        XCTAssertEqual(
            resolved.trainer,
            GRPOTrainer.Config.flux.with {
                $0.evalPrompts = 64; $0.rolloutBatchSize = 64; $0.transitionBatchSize = 64
            })
        XCTAssertEqual(resolved.task.checkpoint, "data/flux")
        XCTAssertEqual(resolved.task.embeddings, "data/rl_embeddings")
        XCTAssertEqual([resolved.task.height, resolved.task.width], [720, 720])
    }

    func testUnknownKeysAndBadValuesNameTheFile() throws {
        let folder = try temporaryDirectory(self)
        let file = folder.appendingPathComponent("bad.json")
        try #"{"num_generation": 3}"#.write(to: file, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(
            try RunSettings.resolve(preset: .flux, presetName: "flux", layers: [try SettingsLayer.file(file)])
        ) {
            XCTAssertTrue("\($0)".contains("bad.json: unknown setting 'num_generation'"), "\($0)")
        }
        XCTAssertThrowsError(
            try RunSettings.resolve(
                preset: .flux, presetName: "flux",
                layers: [
                    SettingsLayer(origin: "x.json", values: ["sampler": "euler"])
                ])
        ) {
            XCTAssertTrue(
                "\($0)".contains("x.json: setting 'sampler': 'euler' is not one of dance-sde, flow-sde, cps, ddim"),
                "\($0)")
        }
        XCTAssertThrowsError(try SettingsLayer.file(folder.appendingPathComponent("t.json").written(#"{"t": 16}"#))) {
            XCTAssertTrue("\($0)".contains("setting 't' = 16"), "\($0)")
        }
        XCTAssertThrowsError(try SettingsLayer.file(folder.appendingPathComponent("list.yaml").written("- 1\n- 2\n"))) {
            XCTAssertTrue("\($0)".contains("list.yaml: expected a mapping"), "\($0)")
        }
    }

    /// A value out of range is named by its flag; set by a file, by the file and the key as it spells it too.
    func testOutOfRangeValuesNameTheFlagAndTheFileKey() throws {
        let folder = try temporaryDirectory(self)
        let file = try folder.appendingPathComponent("clip.yaml").written("clip_range: 0\nmax_grad_norm: 2\n")
        let fromFile = try RunSettings.resolve(
            preset: .flux, presetName: "flux", layers: [try SettingsLayer.file(file)])
        XCTAssertThrowsError(try fromFile.validate()) {
            XCTAssertEqual(
                "\($0)", "\(file.path): setting 'clip_range' (--clip-range) must be a finite number > 0, got 0")
        }
        let fromFlag = try RunSettings.resolve(
            preset: .flux, presetName: "flux",
            layers: [SettingsLayer(origin: SettingsLayer.commandLine, values: ["clipRange": 0.0])])
        XCTAssertThrowsError(try fromFlag.validate()) {
            XCTAssertEqual("\($0)", "--clip-range must be a finite number > 0, got 0")
        }
        XCTAssertThrowsError(
            try RunSettings.resolve(
                preset: .flux, presetName: "flux",
                layers: [SettingsLayer(origin: file.path, values: ["max_grad_norm": Double.infinity])])
        ) {
            XCTAssertEqual(
                "\($0)", "\(file.path): setting 'max_grad_norm' (--max-grad-norm) must be a finite number, got inf")
        }
        var config = GRPOTrainer.Config.flux
        config.promptsPerIteration = 1
        config.bestOfN = 4
        config.gradientAccumulationSteps = 5
        XCTAssertThrowsError(try config.validate()) {
            XCTAssertEqual(
                "\($0)",
                """
                --gradient-accumulation-steps must be an integer from 1 to 4 (an optimizer step needs that many of an \
                iteration's 4 trained samples: --prompts-per-iteration × --best-of-n), got 5
                """)
        }
    }

    func testEMAAndRewardSwitchesOfTheSeed() throws {
        let on = try SeedArgumentsProbe.resolve(["use_ema": true, "use_pickscore": true, "use_hpsv2": false])
        XCTAssertEqual(on.trainer.emaDecay, 0.995)
        XCTAssertEqual(on.trainer.rewards, "pickscore")
        let off = try SeedArgumentsProbe.resolve(["use_ema": false, "ema_decay": 0.9])
        XCTAssertEqual(off.trainer.emaDecay, 0)
        XCTAssertEqual(try SeedArgumentsProbe.resolve(["ema_decay": 0.9]).trainer.emaDecay, 0.9, "our own key")
        XCTAssertEqual(
            try SeedArgumentsProbe.resolve(["lora_target_modules": "to_q,to_v"]).trainer.loraTargets, ["to_q", "to_v"])
    }
}

private enum SeedArgumentsProbe {
    static func resolve(_ values: [String: Any]) throws -> RunSettings {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("settings-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("c.json")
        try JSONSerialization.data(withJSONObject: values).write(to: file)
        return try RunSettings.resolve(preset: .flux, presetName: "flux", layers: [try SettingsLayer.file(file)])
    }
}

extension GRPOTrainer.Config {
    fileprivate func with(_ change: (inout Self) -> Void) -> Self {
        var copy = self
        change(&copy)
        return copy
    }
}

extension URL {
    fileprivate func written(_ text: String) throws -> URL {
        try text.write(to: self, atomically: true, encoding: .utf8)
        return self
    }
}
