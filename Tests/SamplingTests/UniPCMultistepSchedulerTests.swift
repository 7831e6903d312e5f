import Checkpoints
import Engine
import Foundation
import Sampling
import TestSupport
import XCTest

/// UniPC against diffusers' own `UniPCMultistepScheduler` (tools/goldens/unipc.py): sigmas, timesteps and every
/// step's output of whole runs from the same initial sample and model outputs, for Wan 2.1's config and variants.
final class UniPCMultistepSchedulerTests: XCTestCase {
    struct Golden {
        let configs: [String: UniPCMultistepScheduler.Config]
        let configJSON: [String: Any]
        let tensors: [String: Tensor]
        subscript(_ key: String) -> Tensor { tensors[key]! }
    }

    static let cases = [
        ("wan", 1), ("wan", 2), ("wan", 6), ("wan", 10), ("order1_shift5", 6), ("order1_shift5", 10), ("order3", 7),
        ("epsilon", 5), ("sample", 5), ("bh1_sigma_min", 6)
    ]

    private func golden() throws -> Golden {
        let file = try SafeTensorsFile(url: Fixture.url("unipc.safetensors"))
        let json = try XCTUnwrap(file.metadata["configs"], "unipc.safetensors has no configs metadata")
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let configs = try JSONDecoder().decode([String: UniPCMultistepScheduler.Config].self, from: Data(json.utf8))
        return Golden(configs: configs, configJSON: object, tensors: try file.tensors())
    }

    /// Runs every step from the fixture's sample with its model outputs; returns each step's output.
    private func run(_ scheduler: UniPCMultistepScheduler, _ g: Golden) -> [Tensor] {
        var state = UniPCMultistepScheduler.State()
        var x = g["sample"]
        return (0..<scheduler.steps).map { i in
            x = scheduler.step(i, modelOutput: g["model_output.\(i)"], sample: x, state: &state)
            return x
        }
    }

    func testSigmasAndTimestepsMatchDiffusers() throws {
        let g = try golden()
        for (name, steps) in Self.cases {
            let s = UniPCMultistepScheduler(config: try XCTUnwrap(g.configs[name]), steps: steps)
            let label = "\(name).steps\(steps)"
            XCTAssertEqual(s.sigmas, g[label + ".sigmas"].toArray(Float.self), accuracy: 0, label)
            XCTAssertEqual(s.timesteps.map(Float.init), g[label + ".timesteps"].toArray(Float.self), accuracy: 0, label)
        }
    }

    func testEveryStepMatchesDiffusers() throws {
        let g = try golden()
        for (name, steps) in Self.cases {
            let s = UniPCMultistepScheduler(config: try XCTUnwrap(g.configs[name]), steps: steps)
            for (i, x) in run(s, g).enumerated() {
                assertRelativelyClose(x, g["\(name).steps\(steps).step\(i)"], "\(name).steps\(steps) step \(i)")
            }
        }
    }

    /// `--shift` sets `flow_shift`: Wan's config with shift 5 gives the 720p schedule diffusers computed.
    func testShiftOverrideSetsFlowShift() throws {
        let g = try golden()
        let s = UniPCMultistepScheduler(config: try XCTUnwrap(g.configs["wan"]), steps: 10, shiftOverride: 5)
        XCTAssertEqual(s.sigmas, g["order1_shift5.steps10.sigmas"].toArray(Float.self), accuracy: 0)
        XCTAssertEqual(
            s.timesteps.map(Float.init), g["order1_shift5.steps10.timesteps"].toArray(Float.self), accuracy: 0)
    }

    /// A copied state resumes the run exactly, and each sample of the batch is stepped on its own.
    func testStateResumesAndBatchRowsAreIndependent() throws {
        let g = try golden()
        let s = UniPCMultistepScheduler(config: .wan21, steps: 6)
        let full = run(s, g)
        var state = UniPCMultistepScheduler.State()
        var x = g["sample"]
        for i in 0..<3 { x = s.step(i, modelOutput: g["model_output.\(i)"], sample: x, state: &state) }
        var saved = state
        var y = x
        for i in 3..<6 {
            x = s.step(i, modelOutput: g["model_output.\(i)"], sample: x, state: &state)
            y = s.step(i, modelOutput: g["model_output.\(i)"], sample: y, state: &saved)
        }
        assertClose(x, full[5], tolerance: 0)
        assertClose(y, full[5], tolerance: 0)

        var rowState = UniPCMultistepScheduler.State()
        var row = g["sample"][1..<2]
        for i in 0..<6 { row = s.step(i, modelOutput: g["model_output.\(i)"][1..<2], sample: row, state: &rowState) }
        assertClose(row, full[5][1..<2], tolerance: 1e-6)
    }

    /// The fixture's Wan config is the preset, and it reads back from a folder through the class-name selector.
    func testFolderSelectsUniPCByClassName() throws {
        let g = try golden()
        XCTAssertEqual(g.configs["wan"], .wan21)
        let folder = try temporaryDirectory(self)
        let data = try JSONSerialization.data(withJSONObject: try XCTUnwrap(g.configJSON["wan"]))
        try data.write(to: folder.appendingPathComponent("scheduler_config.json"))
        let config = try SchedulerConfig.load(folder)
        XCTAssertEqual(config, .uniPC(.wan21))
        var scheduler = config.scheduler(steps: 6)
        XCTAssertEqual(scheduler.timesteps, [999, 937, 857, 750, 600, 376])
        var x = g["sample"]
        for i in 0..<6 { x = scheduler.step(i, modelOutput: g["model_output.\(i)"], sample: x) }
        assertRelativelyClose(x, g["wan.steps6.step5"], "through FolderScheduler")
    }

    func testFolderSelectsFlowMatchEuler() throws {
        let config = try SchedulerConfig.load(Fixture.url("flux_mini/scheduler"))
        guard case .flowMatchEuler(let euler) = config else { return XCTFail("expected Euler, got \(config)") }
        XCTAssertEqual(euler.shift, 3)
        var scheduler = config.scheduler(steps: 4, shiftOverride: 2)
        let reference = FlowMatchEulerScheduler(config: euler, steps: 4, imageSequenceLength: 0, shiftOverride: 2)
        XCTAssertEqual(scheduler.sigmas, reference.sigmas, accuracy: 0)
        let x = Tensor([1, 2] as [Float], shape: [1, 2]), v = Tensor([0.5, -1] as [Float], shape: [1, 2])
        assertClose(
            scheduler.step(0, modelOutput: v, sample: x), reference.step(0, velocity: v, sample: x), tolerance: 0)
    }

    func testUnknownClassAndUnsupportedValuesNameFileAndKey() throws {
        let folder = try temporaryDirectory(self)
        let file = folder.appendingPathComponent("scheduler_config.json")
        func write(_ object: [String: Any]) throws {
            try JSONSerialization.data(withJSONObject: object).write(to: file)
        }
        func message(_ object: [String: Any]) throws -> String {
            try write(object)
            do {
                _ = try SchedulerConfig.load(folder)
            } catch let error as ConfigFile.Error {
                XCTAssertEqual(error.file, file.path)
                return error.message
            }
            XCTFail("\(object) was accepted")
            return ""
        }
        XCTAssertTrue(try message(["_class_name": "DPMSolverMultistepScheduler"]).contains("_class_name"))
        XCTAssertTrue(try message(["use_flow_sigmas": true]).contains("_class_name"))
        let wan: [String: Any] = [
            "_class_name": "UniPCMultistepScheduler", "use_flow_sigmas": true, "prediction_type": "flow_prediction"
        ]
        for (key, value) in [
            ("solver_type", "bh1"), ("prediction_type", "noise"), ("use_karras_sigmas", true),
            ("use_flow_sigmas", false), ("predict_x0", false), ("final_sigmas_type", "sigma_max"),
            ("thresholding", true), ("use_dynamic_shifting", true), ("timestep_spacing", "even")
        ] as [(String, Any)] {
            XCTAssertTrue(try message(wan.merging([key: value]) { $1 }).contains(key), key)
        }
        // The combinations that are NaN in diffusers: a final σ = 0 with bh1 or with an order-2 last step, and an
        // order-3 last step with h = 0.
        let lowerOrderFinalOff = wan.merging(["lower_order_final": false]) { $1 }
        XCTAssertTrue(try message(lowerOrderFinalOff).contains("lower_order_final"))
        XCTAssertTrue(
            try message(lowerOrderFinalOff.merging(["final_sigmas_type": "sigma_min", "solver_order": 3]) { $1 })
                .contains("lower_order_final"))
        XCTAssertTrue(try message(wan.merging(["solver_order": "two"]) { $1 }).contains("solver_order"))
        // Legacy solver names, unknown keys and a null solver_p are accepted as diffusers accepts them.
        try write(wan.merging(["solver_type": "midpoint", "some_future_key": 1, "solver_p": NSNull()]) { $1 })
        XCTAssertNoThrow(try SchedulerConfig.load(folder))
    }

    /// max |actual − expected| ≤ 1e-5 · max|expected| (UniPC's outputs are relative to its inputs' scale; the
    /// epsilon case reaches 1e6).
    private func assertRelativelyClose(
        _ actual: Tensor, _ expected: Tensor, _ label: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(actual.shape, expected.shape, label, file: file, line: line)
        let scale = expected.abs().max().item(Float.self)
        let error = maxAbsDifference(actual, expected)
        XCTAssert(
            error <= 1e-5 * scale, "\(label): max abs error \(error) > 1e-5 × \(scale)", file: file, line: line)
    }
}
