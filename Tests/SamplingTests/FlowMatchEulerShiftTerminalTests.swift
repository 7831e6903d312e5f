import Checkpoints
import Engine
import Foundation
import Sampling
import TestSupport
import XCTest

/// `FlowMatchEulerDiscreteScheduler`'s `shift_terminal` stretch and linear time shift against diffusers' sigmas
/// (tools/goldens/qwen_image_mini.py, "schedule.<name>.sigmas"; Qwen-Image's own exponential settings are checked by
/// QwenImagePipelineTests).
final class FlowMatchEulerShiftTerminalTests: XCTestCase {
    func testStretchAndLinearShiftMatchDiffusers() throws {
        let golden = try SafeTensors.load(Fixture.url("qwen_image_mini_pipeline.safetensors"))
        var linear = FlowMatchEulerScheduler.Config()
        (linear.useDynamicShifting, linear.timeShiftType, linear.baseShift, linear.maxShift) = (
            true, "linear", 0.5, 0.9
        )
        (linear.baseImageSeqLen, linear.maxImageSeqLen, linear.shiftTerminal) = (256, 8192, 0.1)
        var fixed = FlowMatchEulerScheduler.Config()
        (fixed.shift, fixed.shiftTerminal) = (3, 0.05)
        for (name, config, steps, tokens) in [("linear_terminal", linear, 5, 1024), ("static_terminal", fixed, 4, 0)] {
            let sigmas = FlowMatchEulerScheduler(config: config, steps: steps, imageSequenceLength: tokens).sigmas
            let error = maxAbsDifference(Tensor(sigmas), golden["schedule.\(name).sigmas"]!)
            XCTAssertLessThanOrEqual(error, 1e-6, "\(name): \(sigmas)")
            XCTAssertEqual(sigmas[steps - 1], config.shiftTerminal!, accuracy: 1e-6, name)
        }
    }

    func testUnknownTimeShiftTypeIsRefused() throws {
        let data = Data(#"{"use_dynamic_shifting": true, "time_shift_type": "cosine"}"#.utf8)
        XCTAssertThrowsError(try JSONDecoder().decode(FlowMatchEulerScheduler.Config.self, from: data)) {
            XCTAssert("\($0)".contains("time_shift_type"), "\($0)")
        }
    }
}
