import Foundation
import XCTest

/// Bad numbers and hostile text as a careless or hostile user gives them: every numeric flag range-checked before any
/// work, naming the flag (and the file and key for a --config), `--dry-run` refusing exactly what a run refuses; a
/// learning rate that blows the weights up stops with a message and leaves only finite checkpoints; text from files
/// reaches the terminal escaped.
final class BadInputCommandTests: XCTestCase {
    private func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try DancegrpoExecutable.run(arguments)
    }

    private func assertRefused(
        _ arguments: [String], _ message: String, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let result = try run(arguments)
        XCTAssertNotEqual(result.status, 0, arguments.joined(separator: " "), file: file, line: line)
        XCTAssertTrue(result.output.contains(message), "\(arguments): \(result.output)", file: file, line: line)
    }

    func testTrainSettingsOutOfRangeAreRefusedByRunsAndDryRunsAlike() throws {
        let folder = try RunFolderFiles.temporaryRoot("ranges")
        defer { try? FileManager.default.removeItem(at: folder) }
        for (flags, message) in [
            (["--timestep-fraction", "0"], "--timestep-fraction must be a finite number > 0 and ≤ 1, got 0"),
            (
                ["--timestep-fraction", "0.05"],
                "--timestep-fraction must be at least 1/11 (it trains floor(11 × fraction)"
            ),
            (
                ["--learning-rate", "1e300"],
                "--learning-rate must be a finite number > 0 and ≤ 3.4028234663852886e+38"
            ),
            (["--learning-rate", "nan"], "--learning-rate must be a finite number, got nan"),
            (["--learning-rate=-1"], "--learning-rate must be a finite number > 0"),
            (["--learning-rate", "0"], "--learning-rate must be a finite number > 0"),
            (["--gradient-accumulation-steps", "0"], "--gradient-accumulation-steps must be an integer from 1 to 32"),
            (
                ["--gradient-accumulation-steps", "33"],
                "--gradient-accumulation-steps must be an integer from 1 to 32 (an optimizer step needs that many of "
                    + "an iteration's 32 trained samples"
            ),
            (["--max-grad-norm", "inf"], "--max-grad-norm must be a finite number, got inf"),
            (["--max-grad-norm", "0"], "--max-grad-norm must be a finite number > 0, got 0"),
            (["--eta=-0.5"], "--eta must be a finite number ≥ 0, got -0.5"),
            (["--clip-range", "0"], "--clip-range must be a finite number > 0, got 0"),
            (["--beta=-1"], "--beta must be a finite number ≥ 0 (0: no KL penalty), got -1"),
            (["--lora-rank=-2"], "--lora-rank must be an integer from 0 to 65536 (0: full fine-tuning), got -2"),
            (["--time-budget=-1"], "--time-budget must be a finite number ≥ 0 (minutes; 0: no limit), got -1"),
            (["--iterations", "0"], "--iterations must be an integer from 1 to 16777216, got 0"),
            (
                ["--prompts-per-iteration", "4611686018427387904"],
                "--prompts-per-iteration must be an integer from 1 to 16777216, got 4611686018427387904"
            ),
            (["--shift", "nan"], "--shift must be a finite number, got nan"),
            (["--prompts-per-iteration", "0"], "--prompts-per-iteration must be an integer from 1 to 16777216, got 0"),
            (["--eval-prompts", "0"], "--eval-prompts must be an integer from 1 to 16777216, got 0"),
            (["--sampling-steps", "1"], "--sampling-steps must be an integer from 2 to 16777216"),
            (["--max-consecutive-skipped-steps", "0"], "--max-consecutive-skipped-steps must be an integer ≥ 1"),
            (
                ["--model", "flux", "--height", "721"],
                "--height must be a multiple of 16 from 16 to 65536 px (FLUX: 8× VAE downsampling, then 2×2 patches)"
            ),
            (["--model", "sd", "--resolution", "500"], "--resolution must be a multiple of 8"),
            (["--model", "sd", "--sampler", "cps"], "sampler 'cps' is a flow-matching sampler"),
            (["--lr-scheduler", "linear", "--lr-warmup-steps", "10000"], "--lr-warmup-steps 10000 exceeds the run's")
        ] {
            let arguments = ["train", "--output-dir", folder.appendingPathComponent("run").path] + flags
            try assertRefused(arguments + ["--dry-run"], "Error: " + message)
            if flags.first == "--timestep-fraction" || flags.first == "--gradient-accumulation-steps" {
                try assertRefused(arguments, "Error: " + message)  // before a rollout, not after one
            }
        }
        XCTAssertFalse(
            FileManager.default.fileExists(atPath: folder.appendingPathComponent("run").path), "refused before any work"
        )
    }

    func testSettingsFilesNameTheFileAndKey() throws {
        let folder = try RunFolderFiles.temporaryRoot("config-ranges")
        defer { try? FileManager.default.removeItem(at: folder) }
        let yaml = folder.appendingPathComponent("nan.yaml")
        try "learning_rate: .nan\n".write(to: yaml, atomically: true, encoding: .utf8)
        try assertRefused(
            ["train", "--config", yaml.path, "--dry-run"],
            "Error: \(yaml.path): setting 'learning_rate' (--learning-rate) must be a finite number, got nan")
        let json = folder.appendingPathComponent("fraction.json")
        try #"{"timestep_fraction": 0, "max_train_steps": 5}"#.write(to: json, atomically: true, encoding: .utf8)
        try assertRefused(
            ["train", "--config", json.path, "--dry-run"],
            "Error: \(json.path): setting 'timestep_fraction' (--timestep-fraction) must be a finite number > 0 and "
                + "≤ 1, got 0")
        let huge = folder.appendingPathComponent("huge.json")
        try #"{"learning_rate": 1e999}"#.write(to: huge, atomically: true, encoding: .utf8)
        try assertRefused(
            ["train", "--config", huge.path, "--dry-run"],
            "Error: \(huge.path): not valid JSON: Number 1e999 is not representable in Swift.")
    }

    func testOtherCommandsCheckTheirNumbers() throws {
        for (arguments, message) in [
            (
                ["sample", "--checkpoint", "none", "--prompt", "a", "--steps", "0"],
                "--steps must be an integer ≥ 1, got 0"
            ),
            (
                ["sample", "--checkpoint", "none", "--prompt", "a", "--model", "flux", "--height", "721"],
                "--height must be a multiple of 16 from 16 to 65536 px for --model flux, got 721"
            ),
            (
                ["sample", "--checkpoint", "none", "--prompt", "a", "--model", "sd", "--width", "500"],
                "--width must be a multiple of 8"
            ),
            (
                ["sample", "--checkpoint", "none", "--prompt", "a", "--shift", "nan"],
                "--shift must be a finite number > 0, got nan"
            ),
            (
                ["sample", "--checkpoint", "none", "--prompt", "a", "--guidance", "inf"],
                "--guidance must be a finite number ≥ 0, got inf"
            ),
            (["evaluate", "--prompts", "0"], "--prompts must be an integer ≥ 1, got 0"),
            (["evaluate", "--shift", "0"], "--shift must be a finite number > 0, got 0"),
            (
                ["preprocess", "--checkpoint", "none", "--prompts", "none", "--batch-size", "0"],
                "--batch-size must be an integer ≥ 1, got 0"
            ),
            (
                ["preprocess", "--checkpoint", "none", "--prompts", "none", "--max-sequence-length", "0"],
                "--max-sequence-length must be an integer from 1 to 4096"
            ),
            (["score", "--batch-size", "0"], "--batch-size must be an integer ≥ 1, got 0"),
            (["pretrain", "--learning-rate", "nan"], "--learning-rate must be a finite number > 0"),
            (["pretrain", "--steps", "0"], "--steps must be an integer ≥ 1, got 0"),
            (["pretrain", "--image-size", "30"], "--image-size must be a multiple of 4, got 30"),
            (
                ["pretrain", "--conditioning-dropout", "2"],
                "--conditioning-dropout must be a finite number ≥ 0 and ≤ 1"
            )
        ] {
            try assertRefused(arguments, message)
        }
    }

    /// lr 1e38 passes the range check, and its first AdamW step (10 × lr after bias correction) overflows float32:
    /// every step is undone and counted, the run stops after 3 in a row, and every checkpoint holds finite weights.
    func testALearningRateThatBreaksTheWeightsStopsTheRun() throws {
        let folder = try RunFolderFiles.temporaryRoot("nan-run")
        defer { try? FileManager.default.removeItem(at: folder) }
        let result = try run([
            "train", "--processes", "1", "--prompts-per-iteration", "2", "--num-generations", "2",
            "--sampling-steps", "4", "--gradient-accumulation-steps", "2", "--eval-prompts", "2", "--eval-every", "0",
            "--checkpoint-every", "1", "--iterations", "4", "--learning-rate", "1e38", "--output-dir", folder.path
        ])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(
            result.output.contains(
                "Error: training stopped at iteration 2: 3 optimizer steps in a row were skipped for non-finite values "
                    + "(the last: non-finite weights after the step)"), result.output)
        XCTAssertTrue(result.output.contains("skipped steps 2"), "counted in the progress: \(result.output)")
        let metrics = try String(contentsOf: folder.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        XCTAssertTrue(metrics.contains(#""skippedSteps":2"#), metrics)
        var checked = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) where name.hasPrefix("checkpoint")
        {
            for file in ["transformer/diffusion_pytorch_model.safetensors", "optimizer.safetensors"] {
                let values = try RunFolderFiles.float32Values(folder.appendingPathComponent(name + "/" + file))
                // Every step was undone: AdamW holds no moments yet, only its step count.
                XCTAssertEqual(values.isEmpty, file == "optimizer.safetensors", "\(name)/\(file)")
                XCTAssertTrue(values.allSatisfy(\.isFinite), "\(name)/\(file)")
                checked += 1
            }
        }
        XCTAssertEqual(checked, 2, "checkpoint-1-0 (the untouched weights) and nothing after")
    }

    /// A settings file whose key carries an escape sequence and a carriage return: the refusal shows them escaped.
    func testTextFromFilesReachesTheTerminalEscaped() throws {
        let folder = try RunFolderFiles.temporaryRoot("escape")
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = folder.appendingPathComponent("evil.json")
        try Data(#"{"\u001b[2J\u001b[31mpwned\r": 1}"#.utf8).write(to: config)
        let result = try run(["train", "--config", config.path, "--dry-run"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.output.contains(#"unknown setting '\u{1B}[2J\u{1B}[31mpwned\r'"#), result.output)
        XCTAssertFalse(result.output.contains("\u{1b}"), "no raw ESC byte reaches the terminal")
        XCTAssertFalse(result.output.contains("\r"), "no raw carriage return")
    }
}
