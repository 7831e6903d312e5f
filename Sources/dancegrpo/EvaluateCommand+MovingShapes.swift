import EmbeddedWorld
import Foundation
import Imaging
import Rewards
import ShapesWorld
import Training
import Video

extension EvaluateCommand {
    /// The moving-shapes world's scores: the motion reward, its two halves and accuracy, per prompt family; the grid
    /// of filmstrips (`--grid`) and an MP4 of clip grids beside it.
    func evaluateMovingShapes(folder: String, base: String, split: PromptCatalog.Split) throws {
        let stepCount = steps ?? 12
        let model = try MovingShapesWorldModel.load(
            checkpointOrModel: URL(fileURLWithPath: folder), base: URL(fileURLWithPath: base), averaged: ema)
        let prompts = MovingShapesEvaluation.prompts(split: split, count: self.prompts, seed: seed)
        let task = MovingShapesWorldTask(model: model)
        let result = try Evaluation(
            prompts: prompts.map(Prompt.init(moving:)), steps: stepCount, shift: shift, seed: seed
        ).run(task, rewards: try task.rewardCatalog.makeSet("motion"))
        print(
            String(
                format:
                    "%@ (%d %@ prompts, %d steps): mean reward %.3f (appearance %.3f, motion %.3f), accuracy %.1f%%",
                folder, prompts.count, self.split, stepCount, result.meanReward,
                result.infoMeans["appearance"] ?? Double.nan,
                result.infoMeans["motion"] ?? Double.nan, 100 * (result.accuracy ?? 0)))
        for direction in MotionDirection.allCases {
            let rows = prompts.indices.filter { prompts[$0].direction == direction }
            guard !rows.isEmpty else { continue }
            let reward = rows.map { result.rewards[$0] }.reduce(0, +) / Double(rows.count)
            print(String(format: "  moving %-5@ %3d prompts  reward %.3f", direction.rawValue, rows.count, reward))
        }
        if let grid {
            let url = URL(fileURLWithPath: grid)
            try PNGEncoder.write(try result.grid(), to: url)
            if let clip = try result.videoGrid() {
                let movie = url.deletingPathExtension().appendingPathExtension("mp4")
                try writeMP4(frames: clip, fps: result.framesPerSecond, to: movie)
                print("grid: \(grid), clips: \(movie.path)")
                return
            }
            print("grid: \(grid)")
        }
    }
}
