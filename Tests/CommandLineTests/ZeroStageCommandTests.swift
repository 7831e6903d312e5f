import Foundation
import XCTest

/// `train --processes 2 --zero-stage N` on the embedded world: every stage writes the checkpoint stage 0 writes (the
/// same weights, optimizer moments and EMA, per parameter, up to float rounding), and a checkpoint written at one
/// stage and rank count resumes at another.
final class ZeroStageCommandTests: XCTestCase {
    private func train(_ folder: URL, stage: Int, processes: Int = 2, iterations: Int = 1, _ extra: [String] = [])
        throws -> (status: Int32, output: String)
    {
        try DancegrpoExecutable.run(
            [
                "train", "--processes", "\(processes)", "--zero-stage", "\(stage)", "--prompts-per-iteration", "1",
                "--num-generations", "2", "--sampling-steps", "4", "--gradient-accumulation-steps", "1",
                "--eval-prompts", "2", "--eval-every", "0", "--checkpoint-every", "1", "--iterations", "\(iterations)",
                "--output-dir", folder.path
            ] + extra)
    }

    func testEveryStageWritesStageZerosCheckpointAndResumesOnAnotherRankCount() throws {
        guard FileManager.default.fileExists(atPath: DancegrpoExecutable.url.path) else {
            return XCTFail("\(DancegrpoExecutable.url.path) is missing: build with `swift build --build-tests`")
        }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("dancegrpo-zero-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        var checkpoints: [Int: URL] = [:]
        for stage in [0, 2, 3] {
            let folder = root.appendingPathComponent("stage-\(stage)")
            // Stage 3 with checkpointed blocks gathers each block's weights inside its checkpoint.
            let result = try train(folder, stage: stage, stage == 3 ? ["--gradient-checkpointing"] : [])
            XCTAssertEqual(result.status, 0, result.output)
            checkpoints[stage] = folder.appendingPathComponent("checkpoint-1-0")
        }
        let files = [
            "transformer/diffusion_pytorch_model.safetensors", "optimizer.safetensors", "ema.safetensors",
            "transformer_ema/diffusion_pytorch_model.safetensors"
        ]
        for file in files {
            let expected = try FloatTensors.read(checkpoints[0]!.appendingPathComponent(file))
            XCTAssertFalse(expected.isEmpty, file)
            for stage in [2, 3] {
                let found = try FloatTensors.read(checkpoints[stage]!.appendingPathComponent(file))
                XCTAssertEqual(Set(found.keys), Set(expected.keys), "stage \(stage): \(file)")
                let scale = expected.values.flatMap { $0 }.map(abs).max() ?? 1
                let difference =
                    expected.keys.map { key in
                        zip(expected[key]!, found[key] ?? []).map { abs($0 - $1) }.max() ?? 0
                    }.max() ?? 0
                XCTAssertLessThanOrEqual(difference / scale, 1e-5, "stage \(stage): \(file)")
            }
        }
        // Written by 2 ranks at stage 3, resumed by one process (replicated) and by 4 ranks at stage 2.
        for (processes, stage) in [(1, 0), (4, 2)] {
            let copy = root.appendingPathComponent("resume-\(processes)")
            try FileManager.default.copyItem(at: root.appendingPathComponent("stage-3"), to: copy)
            let resumed = try train(copy, stage: stage, processes: processes, iterations: 2, ["--resume", copy.path])
            XCTAssertEqual(resumed.status, 0, resumed.output)
            XCTAssertTrue(resumed.output.contains("resumed from"), resumed.output)
            XCTAssertTrue(
                FileManager.default.fileExists(atPath: copy.appendingPathComponent("checkpoint-2-0/manifest.json").path)
            )
        }
        // A checkpoint of another network is one line before any model loads.
        let stageZero = root.appendingPathComponent("stage-0")
        for (flags, expected) in [
            (["--lora-rank", "4"], "this run trains LoRA adapters (pytorch_lora_weights.safetensors)"),
            (["--model", "sd", "--sampler", "ddim"], "this run trains a whole unet/ network")
        ] {
            let refused = try DancegrpoExecutable.run(
                ["train", "--resume", stageZero.path, "--iterations", "2"] + flags)
            XCTAssertNotEqual(refused.status, 0)
            XCTAssertTrue(
                refused.output.contains("checkpoint-1-0 holds a whole transformer/ network, \(expected)"),
                refused.output)
        }
    }
}

/// The float32 tensors of a safetensors file (the format's 8-byte header length, JSON header, data), for comparing
/// checkpoints without the engine.
enum FloatTensors {
    static func read(_ url: URL) throws -> [String: [Double]] {
        let data = try Data(contentsOf: url)
        let headerLength = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + headerLength))) as! [String: Any]
        var result: [String: [Double]] = [:]
        for (key, value) in header where key != "__metadata__" {
            guard let entry = value as? [String: Any], entry["dtype"] as? String == "F32",
                let offsets = entry["data_offsets"] as? [Int]
            else { continue }
            let bytes = data.subdata(in: (8 + headerLength + offsets[0])..<(8 + headerLength + offsets[1]))
            result[key] = bytes.withUnsafeBytes { raw in
                (0..<(bytes.count / 4)).map {
                    Double(Float(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)))
                }
            }
        }
        return result
    }
}
